// bind_ctc_loss.cpp — ctc_loss_forward(log_probs, targets, input_lengths, target_lengths, blank,
// zero_infinity) → (nll, log_alpha) and ctc_loss_backward(grad_output, log_probs, targets,
// input_lengths, target_lengths, log_alpha, blank) → grad_log_probs (pyengine/ctc_loss.h), for
// pyengine._C and pyengine._cuda.
//
// The lengths and labels are checked by value (lengths within T, labels in [0, C) and not blank,
// padded targets long enough, concatenated ones of the right total): on the GPU they are copied to the
// host first (the call waits for the device once) and the per-sample label offsets uploaded.
#include "bind.h"
#include "pyengine/ctc_loss.h"

namespace pyengine::bind::ctc_loss {

// The int64 values of an (already contiguous) argument, on the host.
template <class D>
std::vector<std::int64_t> host_ints(typename D::Call& call, const typename D::Arg& a) {
  std::vector<std::int64_t> v(static_cast<size_t>(a.a.numel()));
  if (v.empty()) return v;
  if constexpr (D::is_cuda) {
    const std::int64_t* p = in<std::int64_t>(a);
    cudaStream_t s = call.stream();
    call.run([&] { cuda::ctc_copy_to_host(v.data(), p, static_cast<index_t>(v.size()), s); });
  } else {
    (void)call;
    std::memcpy(v.data(), in<std::int64_t>(a), sizeof(std::int64_t) * v.size());
  }
  return v;
}

// The checked inputs of both ops: dims, host offsets and, on the GPU, the offsets uploaded.
template <class D>
struct Inputs {
  typename D::Arg lp, targets, il, tl;
  CtcDims d{};
  std::vector<index_t> offset;
  typename D::Arg dev_offset;   // the GPU's copy of offset
};

// The arrays' descriptions and blank (no device access), then, once every check that needs no values
// has passed, the values (read_values).
template <class D>
void read_arrays(const char* fn, Inputs<D>& x, py::handle lp_obj, py::handle tg_obj, py::handle il_obj,
                 py::handle tl_obj, py::handle blank_obj) {
  x.lp = D::arg(fn, "log_probs", lp_obj);
  x.targets = D::arg(fn, "targets", tg_obj, false, " of int64 class indices");
  x.il = D::arg(fn, "input_lengths", il_obj, false, " of int64 lengths");
  x.tl = D::arg(fn, "target_lengths", tl_obj, false, " of int64 lengths");
  const index_t blank = to_int(fn, "blank", blank_obj);
  x.d = contract::ctc_dims(fn, x.lp.a, x.targets.a, x.il.a, x.tl.a, blank);
}

template <class D>
void read_values(const char* fn, typename D::Call& call, Inputs<D>& x) {
  call.inputs({&x.lp, &x.targets, &x.il, &x.tl});
  const std::vector<std::int64_t> il = host_ints<D>(call, x.il), tl = host_ints<D>(call, x.tl),
                                   tg = host_ints<D>(call, x.targets);
  x.offset = contract::ctc_values(fn, x.d, x.targets.a, il.data(), tl.data(), tg.data());
  if constexpr (D::is_cuda) {
    x.dev_offset = call.empty_typed("the label offsets", {x.d.N}, "int64", 8);
    if (x.d.N > 0) {
      std::int64_t* p = out<std::int64_t>(x.dev_offset);
      cudaStream_t s = call.stream();
      call.run([&] { cuda::ctc_copy_to_device(p, x.offset.data(), x.d.N, s); });
    }
  }
}

template <class D>
py::object forward(py::handle lp_obj, py::handle tg_obj, py::handle il_obj, py::handle tl_obj, py::handle blank_obj,
                   py::handle zi_obj) {
  const char* fn = "ctc_loss_forward";
  Inputs<D> x;
  read_arrays<D>(fn, x, lp_obj, tg_obj, il_obj, tl_obj, blank_obj);
  const bool zero_inf = to_bool(fn, "zero_infinity", zi_obj);
  typename D::Call call(fn);
  read_values<D>(fn, call, x);
  const CtcDims d = x.d;
  return with_float(x.lp.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto nll = call.template empty<T>("nll", {d.N});
    auto alpha = call.template empty<T>("log_alpha", {d.N, d.T, d.SP});
    const T* plp = in<T>(x.lp);
    const std::int64_t *ptg = in<std::int64_t>(x.targets), *pil = in<std::int64_t>(x.il),
                       *ptl = in<std::int64_t>(x.tl);
    T *pn = out<T>(nll), *pa = out<T>(alpha);
    if (d.N > 0) {
      if constexpr (D::is_cuda) {
        const std::int64_t* po = in<std::int64_t>(x.dev_offset);
        call.run([&] { cuda::ctc_loss_forward<T>(d, plp, ptg, po, pil, ptl, zero_inf, pn, pa, call.stream()); });
      } else {
        call.workspace("the extended labels", static_cast<double>(d.SP) * 9.0 * cpu::get_num_threads());
        const index_t* po = x.offset.data();
        call.run([&] { cpu::ctc_loss_forward<T>(d, plp, ptg, po, pil, ptl, zero_inf, pn, pa); });
      }
    }
    return py::object(py::make_tuple(nll.object(), alpha.object()));
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle lp_obj, py::handle tg_obj, py::handle il_obj, py::handle tl_obj,
                    py::handle alpha_obj, py::handle blank_obj) {
  const char* fn = "ctc_loss_backward";
  auto g = D::arg(fn, "grad_output", g_obj);
  contract::float_array(fn, g.a, 1);
  auto alpha = D::arg(fn, "log_alpha", alpha_obj);
  contract::float_array(fn, alpha.a, 3);
  Inputs<D> x;
  read_arrays<D>(fn, x, lp_obj, tg_obj, il_obj, tl_obj, blank_obj);
  contract::same_dtype(fn, x.lp.a, g.a);
  contract::same_dtype(fn, x.lp.a, alpha.a);
  contract::shape_is(fn, g.a, {x.d.N});
  contract::ctc_alpha_rows(fn, alpha.a, x.d);
  typename D::Call call(fn);
  read_values<D>(fn, call, x);
  const CtcDims d = x.d;
  contract::shape_is(fn, alpha.a, {d.N, d.T, d.SP});
  call.inputs({&g, &alpha});
  return with_float(x.lp.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto grad = call.template empty<T>("grad_log_probs", {d.T, d.N, d.C});
    const T *pg = in<T>(g), *plp = in<T>(x.lp), *pa = in<T>(alpha);
    const std::int64_t *ptg = in<std::int64_t>(x.targets), *pil = in<std::int64_t>(x.il),
                       *ptl = in<std::int64_t>(x.tl);
    T* pgr = out<T>(grad);
    if (d.N > 0 && d.T > 0 && d.C > 0) {
      if constexpr (D::is_cuda) {
        auto beta = call.template empty<T>("the beta workspace", {d.N, d.T, d.SP});
        T* pb = out<T>(beta);
        const std::int64_t* po = in<std::int64_t>(x.dev_offset);
        call.run([&] { cuda::ctc_loss_backward<T>(d, pg, plp, ptg, po, pil, ptl, pa, pgr, pb, call.stream()); });
      } else {
        call.workspace("the beta workspace",
                       (static_cast<double>(d.T) * static_cast<double>(d.SP) * sizeof(T) +
                        static_cast<double>(d.C) * sizeof(T) + static_cast<double>(d.SP) * 9.0) *
                           cpu::get_num_threads());
        const index_t* po = x.offset.data();
        call.run([&] { cpu::ctc_loss_backward<T>(d, pg, plp, ptg, po, pil, ptl, pa, pgr); });
      }
    }
    return grad.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "ctc_loss_forward", &forward<D>, arg("log_probs"), arg("targets"), arg("input_lengths"),
         arg("target_lengths"), arg("blank") = 0, arg("zero_infinity") = false,
         "log_probs (T, N, C), targets int64 padded (N, S) or concatenated (sum(target_lengths),), input_lengths "
         "(N,) and target_lengths (N,) int64 → (nll (N,), log_alpha (N, T, 2*max(target_lengths)+1)): the CTC "
         "negative log-likelihood of each target under all its alignments (zero_infinity: +inf written 0).");
  kernel(m, "ctc_loss_backward", &backward<D>, arg("grad_output"), arg("log_probs"), arg("targets"),
         arg("input_lengths"), arg("target_lengths"), arg("log_alpha"), arg("blank") = 0,
         "grad_output (N,), the forward's inputs and log_alpha → grad_log_probs (T, N, C): the exact gradient of "
         "sum(grad_output·nll) with respect to log_probs (0 past input_lengths and for infinite losses).");
}

}  // namespace pyengine::bind::ctc_loss

namespace pyengine::bind {
PE_BIND_FAMILY(ctc_loss)
}
