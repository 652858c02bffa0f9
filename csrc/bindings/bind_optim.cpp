// bind_optim.cpp — the fused, in-place optimizer updates sgd_step, adam_step, rmsprop_step,
// adagrad_step (pyengine/optim.h), for pyengine._C and pyengine._cuda. Each returns the arrays it
// updated (the caller's own objects); a non-contiguous grad is copied first.
#include "bind.h"
#include "pyengine/cuda/optim.h"
#include "pyengine/optim.h"

namespace pyengine::bind::optim {

using contract::optim_hyper;

// Whether an argument may be updated in place where it is (C-contiguous).
template <class D>
bool in_place_ok(const typename D::Arg& a) {
  if (!a.a.present) return true;
  if constexpr (D::is_cuda) return a.contiguous;
  else return (a.arr.flags() & py::array::c_style) != 0;
}

template <class D>
void check_arrays(const char* fn, typename D::Arg& p, typename D::Arg& g, std::initializer_list<typename D::Arg*> st) {
  std::vector<std::pair<const Array*, bool>> written{{&p.a, in_place_ok<D>(p)}};
  for (auto* s : st) written.emplace_back(&s->a, in_place_ok<D>(*s));
  contract::optim_arrays(fn, p.a, g.a, written);
}

inline double hyper(const char* fn, const char* name, py::handle v, double minimum = 0.0) {
  return optim_hyper(fn, name, to_real(fn, name, v), true, minimum);
}

template <class D>
py::object sgd(py::handle p_, py::handle g_, py::handle b_, py::handle lr_, py::handle mom_, py::handle damp_,
               py::handle wd_, py::handle nest_, py::handle max_, py::handle first_) {
  const char* fn = "sgd_step";
  auto p = D::arg(fn, "param", p_), g = D::arg(fn, "grad", g_), b = D::opt(fn, "momentum_buffer", b_);
  check_arrays<D>(fn, p, g, {&b});
  const double lr = hyper(fn, "lr", lr_), momentum = hyper(fn, "momentum", mom_);
  const double dampening = optim_hyper(fn, "dampening", to_real(fn, "dampening", damp_), false);
  const double wd = hyper(fn, "weight_decay", wd_);
  const bool nesterov = to_bool(fn, "nesterov", nest_), maximize = to_bool(fn, "maximize", max_),
             first_step = to_bool(fn, "first_step", first_);
  if (momentum != 0 && !b.a.present)
    value_error(fn, ": momentum_buffer is required when momentum is ", momentum, " (not 0)");
  if (nesterov && (momentum <= 0 || dampening != 0))
    value_error(fn, ": nesterov needs momentum > 0 and dampening 0, got momentum ", momentum, ", dampening ", dampening);
  typename D::Call call(fn);
  call.inputs({&g});
  call.inout({&p, &b});
  with_float(p.a.dtype, [&](auto t) {
    using T = decltype(t);
    const index_t n = p.a.numel();
    T *pp = out<T>(p), *pb = momentum != 0 ? out<T>(b) : nullptr;
    const T* pg = in<T>(g);
    if constexpr (D::is_cuda)
      call.run([&] {
        cuda::sgd_step<T>(n, pp, pg, pb, lr, momentum, dampening, wd, nesterov, maximize, first_step, call.stream());
      });
    else
      call.run([&] { cpu::sgd_step<T>(n, pp, pg, pb, lr, momentum, dampening, wd, nesterov, maximize, first_step); });
    return 0;
  });
  return py::make_tuple(p_, b_);
}

template <class D>
py::object adam(py::handle p_, py::handle g_, py::handle m_, py::handle v_, py::handle vm_, py::handle step_,
                py::handle lr_, py::handle b1_, py::handle b2_, py::handle eps_, py::handle wd_, py::handle dec_,
                py::handle max_) {
  const char* fn = "adam_step";
  if (m_.is_none() || v_.is_none()) value_error(fn, ": exp_avg and exp_avg_sq are required arrays, got None");
  auto p = D::arg(fn, "param", p_), g = D::arg(fn, "grad", g_), ma = D::arg(fn, "exp_avg", m_),
       v = D::arg(fn, "exp_avg_sq", v_), vm = D::opt(fn, "max_exp_avg_sq", vm_);
  check_arrays<D>(fn, p, g, {&ma, &v, &vm});
  const index_t step = to_int(fn, "step", step_, 1);
  const double lr = hyper(fn, "lr", lr_);
  const double beta1 = optim_hyper(fn, "beta1", to_real(fn, "beta1", b1_), true, 0.0, true, 1.0, true);
  const double beta2 = optim_hyper(fn, "beta2", to_real(fn, "beta2", b2_), true, 0.0, true, 1.0, true);
  const double eps = hyper(fn, "eps", eps_), wd = hyper(fn, "weight_decay", wd_);
  const bool decoupled = to_bool(fn, "decoupled_weight_decay", dec_), maximize = to_bool(fn, "maximize", max_);
  typename D::Call call(fn);
  call.inputs({&g});
  call.inout({&p, &ma, &v, &vm});
  with_float(p.a.dtype, [&](auto t) {
    using T = decltype(t);
    const index_t n = p.a.numel();
    T *pp = out<T>(p), *pm = out<T>(ma), *pv = out<T>(v), *pvm = out<T>(vm);
    const T* pg = in<T>(g);
    if constexpr (D::is_cuda)
      call.run([&] {
        cuda::adam_step<T>(n, pp, pg, pm, pv, pvm, step, lr, beta1, beta2, eps, wd, decoupled, maximize, call.stream());
      });
    else
      call.run([&] { cpu::adam_step<T>(n, pp, pg, pm, pv, pvm, step, lr, beta1, beta2, eps, wd, decoupled, maximize); });
    return 0;
  });
  return py::make_tuple(p_, m_, v_, vm_);
}

template <class D>
py::object rmsprop(py::handle p_, py::handle g_, py::handle v_, py::handle b_, py::handle ga_, py::handle lr_,
                   py::handle alpha_, py::handle eps_, py::handle wd_, py::handle mom_, py::handle max_) {
  const char* fn = "rmsprop_step";
  if (v_.is_none()) value_error(fn, ": square_avg is a required array, got None");
  auto p = D::arg(fn, "param", p_), g = D::arg(fn, "grad", g_), v = D::arg(fn, "square_avg", v_),
       b = D::opt(fn, "momentum_buffer", b_), ga = D::opt(fn, "grad_avg", ga_);
  check_arrays<D>(fn, p, g, {&v, &b, &ga});
  const double lr = hyper(fn, "lr", lr_);
  const double alpha = optim_hyper(fn, "alpha", to_real(fn, "alpha", alpha_), true, 0.0, true, 1.0);
  const double eps = hyper(fn, "eps", eps_), wd = hyper(fn, "weight_decay", wd_), momentum = hyper(fn, "momentum", mom_);
  const bool maximize = to_bool(fn, "maximize", max_);
  if (momentum > 0 && !b.a.present)
    value_error(fn, ": momentum_buffer is required when momentum is ", momentum, " (> 0)");
  typename D::Call call(fn);
  call.inputs({&g});
  call.inout({&p, &v, &b, &ga});
  with_float(p.a.dtype, [&](auto t) {
    using T = decltype(t);
    const index_t n = p.a.numel();
    T *pp = out<T>(p), *pv = out<T>(v), *pb = momentum > 0 ? out<T>(b) : nullptr, *pga = out<T>(ga);
    const T* pg = in<T>(g);
    if constexpr (D::is_cuda)
      call.run([&] {
        cuda::rmsprop_step<T>(n, pp, pg, pv, pb, pga, lr, alpha, eps, wd, momentum, maximize, call.stream());
      });
    else
      call.run([&] { cpu::rmsprop_step<T>(n, pp, pg, pv, pb, pga, lr, alpha, eps, wd, momentum, maximize); });
    return 0;
  });
  return py::make_tuple(p_, v_, b_, ga_);
}

template <class D>
py::object adagrad(py::handle p_, py::handle g_, py::handle s_, py::handle step_, py::handle lr_, py::handle decay_,
                   py::handle wd_, py::handle eps_, py::handle max_) {
  const char* fn = "adagrad_step";
  if (s_.is_none()) value_error(fn, ": state_sum is a required array, got None");
  auto p = D::arg(fn, "param", p_), g = D::arg(fn, "grad", g_), s = D::arg(fn, "state_sum", s_);
  check_arrays<D>(fn, p, g, {&s});
  const index_t step = to_int(fn, "step", step_, 1);
  const double lr = hyper(fn, "lr", lr_), lr_decay = hyper(fn, "lr_decay", decay_);
  const double wd = hyper(fn, "weight_decay", wd_), eps = hyper(fn, "eps", eps_);
  const bool maximize = to_bool(fn, "maximize", max_);
  typename D::Call call(fn);
  call.inputs({&g});
  call.inout({&p, &s});
  with_float(p.a.dtype, [&](auto t) {
    using T = decltype(t);
    const index_t n = p.a.numel();
    T *pp = out<T>(p), *ps = out<T>(s);
    const T* pg = in<T>(g);
    if constexpr (D::is_cuda)
      call.run([&] { cuda::adagrad_step<T>(n, pp, pg, ps, step, lr, lr_decay, wd, eps, maximize, call.stream()); });
    else
      call.run([&] { cpu::adagrad_step<T>(n, pp, pg, ps, step, lr, lr_decay, wd, eps, maximize); });
    return 0;
  });
  return py::make_tuple(p_, s_);
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "sgd_step", &sgd<D>, arg("param"), arg("grad"), arg("momentum_buffer") = py::none(), py::kw_only(),
         arg("lr"), arg("momentum") = 0.0, arg("dampening") = 0.0, arg("weight_decay") = 0.0, arg("nesterov") = false,
         arg("maximize") = false, arg("first_step") = false,
         "SGD with momentum, in place (PyTorch's formulas). Returns (param, momentum_buffer).");
  kernel(m, "adam_step", &adam<D>, arg("param"), arg("grad"), arg("exp_avg"), arg("exp_avg_sq"),
         arg("max_exp_avg_sq") = py::none(), py::kw_only(), arg("step"), arg("lr") = 1e-3, arg("beta1") = 0.9,
         arg("beta2") = 0.999, arg("eps") = 1e-8, arg("weight_decay") = 0.0, arg("decoupled_weight_decay") = false,
         arg("maximize") = false,
         "Adam/AdamW/AMSGrad, in place. Returns (param, exp_avg, exp_avg_sq, max_exp_avg_sq).");
  kernel(m, "rmsprop_step", &rmsprop<D>, arg("param"), arg("grad"), arg("square_avg"),
         arg("momentum_buffer") = py::none(), arg("grad_avg") = py::none(), py::kw_only(), arg("lr") = 1e-2,
         arg("alpha") = 0.99, arg("eps") = 1e-8, arg("weight_decay") = 0.0, arg("momentum") = 0.0,
         arg("maximize") = false, "RMSprop, in place. Returns (param, square_avg, momentum_buffer, grad_avg).");
  kernel(m, "adagrad_step", &adagrad<D>, arg("param"), arg("grad"), arg("state_sum"), py::kw_only(), arg("step"),
         arg("lr") = 1e-2, arg("lr_decay") = 0.0, arg("weight_decay") = 0.0, arg("eps") = 1e-10,
         arg("maximize") = false, "Adagrad, in place. Returns (param, state_sum).");
}

}  // namespace pyengine::bind::optim

namespace pyengine::bind {
PE_BIND_FAMILY(optim)
}
