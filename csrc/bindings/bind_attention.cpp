// bind_attention.cpp — attention_forward(query, key, value, attn_mask, is_causal, scale) → (out, logsumexp)
// and attention_backward(grad_output, query, key, value, out, logsumexp, attn_mask, is_causal, scale,
// needs_input_grad) → (grad_query, grad_key, grad_value) (pyengine/attention.h), for pyengine._C and
// pyengine._cuda.
#include "bind.h"
#include "pyengine/attention.h"

namespace pyengine::bind::attention {

template <class D>
struct Inputs {
  typename D::Arg q, k, v, mask;
  AttentionDims d{};
};

template <class D>
void read_inputs(const char* fn, Inputs<D>& x, py::handle q_obj, py::handle k_obj, py::handle v_obj,
                 py::handle mask_obj, py::handle causal_obj, py::handle scale_obj) {
  x.q = D::arg(fn, "query", q_obj);
  x.k = D::arg(fn, "key", k_obj);
  x.v = D::arg(fn, "value", v_obj);
  x.mask = D::opt(fn, "attn_mask", mask_obj);
  const bool causal = to_bool(fn, "is_causal", causal_obj);
  const bool has_scale = !scale_obj.is_none();
  const double scale = has_scale ? to_real(fn, "scale", scale_obj) : 0.0;
  x.d = contract::attention_dims(fn, x.q.a, x.k.a, x.v.a, x.mask.a, causal, has_scale, scale);
}

template <class D>
py::object forward(py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj, py::handle causal_obj,
                   py::handle scale_obj) {
  const char* fn = "attention_forward";
  Inputs<D> x;
  read_inputs<D>(fn, x, q_obj, k_obj, v_obj, mask_obj, causal_obj, scale_obj);
  const AttentionDims d = x.d;
  typename D::Call call(fn);
  call.inputs({&x.q, &x.k, &x.v, &x.mask});
  return with_float(x.q.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto o = call.template empty<T>("the output", {d.B, d.H, d.L, d.Ev});
    auto lse = call.template empty<T>("logsumexp", {d.B, d.H, d.L});
    const T *pq = in<T>(x.q), *pk = in<T>(x.k), *pv = in<T>(x.v), *pm = in<T>(x.mask);
    T *po = out<T>(o), *pl = out<T>(lse);
    if (d.B * d.H * d.L > 0) {
      if constexpr (D::is_cuda) {
        auto ws = call.template empty<T>("the scores workspace", {cuda::attention_workspace(d, false)});
        T* pw = out<T>(ws);
        call.run([&] { cuda::attention_forward<T>(d, pq, pk, pv, pm, po, pl, pw, call.stream()); });
      } else {
        call.workspace("the scores workspace", static_cast<double>(kAttnRows) * static_cast<double>(d.S) * sizeof(T) *
                                                   cpu::get_num_threads());
        call.run([&] { cpu::attention_forward<T>(d, pq, pk, pv, pm, po, pl); });
      }
    }
    return py::object(py::make_tuple(o.object(), lse.object()));
  });
}

template <class D>
py::object backward(py::handle g_obj, py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle o_obj,
                    py::handle lse_obj, py::handle mask_obj, py::handle causal_obj, py::handle scale_obj,
                    py::handle needs_obj) {
  const char* fn = "attention_backward";
  Inputs<D> x;
  read_inputs<D>(fn, x, q_obj, k_obj, v_obj, mask_obj, causal_obj, scale_obj);
  const AttentionDims d = x.d;
  auto g = D::arg(fn, "grad_output", g_obj);
  auto o = D::arg(fn, "out", o_obj);
  auto lse = D::arg(fn, "logsumexp", lse_obj);
  contract::float_array(fn, g.a, 4);
  contract::float_array(fn, o.a, 4);
  contract::float_array(fn, lse.a, 3);
  contract::same_dtype(fn, x.q.a, g.a);
  contract::same_dtype(fn, x.q.a, o.a);
  contract::same_dtype(fn, x.q.a, lse.a);
  contract::shape_is(fn, g.a, {d.B, d.H, d.L, d.Ev});
  contract::shape_is(fn, o.a, {d.B, d.H, d.L, d.Ev});
  contract::shape_is(fn, lse.a, {d.B, d.H, d.L});
  const auto needs = to_needs<3>(fn, needs_obj);
  typename D::Call call(fn);
  call.inputs({&x.q, &x.k, &x.v, &x.mask, &g, &o, &lse});
  return with_float(x.q.a.dtype, [&](auto t) {
    using T = decltype(t);
    py::object res[3] = {py::none(), py::none(), py::none()};
    typename D::Arg dq, dk, dv;
    if (needs[0]) dq = call.template empty<T>("grad_query", {d.B, d.H, d.L, d.E});
    if (needs[1]) dk = call.template empty<T>("grad_key", {d.B, d.Hk, d.S, d.E});
    if (needs[2]) dv = call.template empty<T>("grad_value", {d.B, d.Hk, d.S, d.Ev});
    const T *pg = in<T>(g), *pq = in<T>(x.q), *pk = in<T>(x.k), *pv = in<T>(x.v), *po = in<T>(o),
            *pl = in<T>(lse), *pm = in<T>(x.mask);
    T *pdq = needs[0] ? out<T>(dq) : nullptr, *pdk = needs[1] ? out<T>(dk) : nullptr,
      *pdv = needs[2] ? out<T>(dv) : nullptr;
    if (needs[0] || needs[1] || needs[2]) {
      if constexpr (D::is_cuda) {
        auto ws = call.template empty<T>("the scores workspace", {cuda::attention_workspace(d, true)});
        T* pw = out<T>(ws);
        call.run([&] { cuda::attention_backward<T>(d, pg, pq, pk, pv, po, pl, pm, pdq, pdk, pdv, pw, call.stream()); });
      } else {
        call.workspace("the scores workspace", 2.0 * static_cast<double>(kAttnRows) * static_cast<double>(d.S) *
                                                   sizeof(T) * cpu::get_num_threads());
        call.run([&] { cpu::attention_backward<T>(d, pg, pq, pk, pv, po, pl, pm, pdq, pdk, pdv); });
      }
    }
    if (needs[0]) res[0] = dq.object();
    if (needs[1]) res[1] = dk.object();
    if (needs[2]) res[2] = dv.object();
    return py::object(py::make_tuple(res[0], res[1], res[2]));
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "attention_forward", &forward<D>, arg("query"), arg("key"), arg("value"), arg("attn_mask") = py::none(),
         arg("is_causal") = false, arg("scale") = py::none(),
         "query (B, H, L, E), key (B, Hk, S, E), value (B, Hk, S, Ev), H a multiple of Hk; attn_mask None or additive "
         "(1 or B, 1 or H, L, S) → (out (B, H, L, Ev), logsumexp (B, H, L)): softmax(q·kᵀ·scale + mask)·v, scale "
         "1/sqrt(E) by default, is_causal keeping j <= i.");
  kernel(m, "attention_backward", &backward<D>, arg("grad_output"), arg("query"), arg("key"), arg("value"),
         arg("out"), arg("logsumexp"), arg("attn_mask") = py::none(), arg("is_causal") = false,
         arg("scale") = py::none(), arg("needs_input_grad") = py::make_tuple(true, true, true),
         "grad_output (B, H, L, Ev), the forward's inputs, out and logsumexp → (grad_query, grad_key, grad_value), "
         "None for each that needs_input_grad leaves out; P recomputed from logsumexp.");
}

}  // namespace pyengine::bind::attention

namespace pyengine::bind {
PE_BIND_FAMILY(attention)
}
