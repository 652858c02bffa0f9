// cuda_bind_pointwise.cpp — pyengine._cuda bindings of the elementwise and per-row/per-channel
// families: activations, dropout, channel sums, softmax/log-softmax, cross-entropy, batch norm, and
// the fused optimizer updates (param and state buffers written in place).
// Same rules as cuda_bind_dense.cpp: caller-allocated outputs, shapes re-checked, caller's stream.
#include <cstdint>

#include "cuda_bind_util.h"
#include "pyengine/cuda/batch_norm.h"
#include "pyengine/cuda/dropout_rng.h"
#include "pyengine/cuda/elementwise.h"
#include "pyengine/cuda/optim.h"
#include "pyengine/cuda/softmax.h"

namespace pyengine::cudabind {
namespace pc = pyengine::cuda;

namespace {

pc::Act act_of(const char* fn, int op) {
  if (op < 0 || op > 4) value_error(cat(fn, ": unknown activation code ", op));
  return static_cast<pc::Act>(op);
}

void bind_activation(py::module_& m) {
  m.def("activation_forward", [](int op, py::handle x_, py::handle y_, double param, std::uintptr_t stream) {
    const char* fn = "activation_forward";
    const pc::Act a = act_of(fn, op);
    Dev x = dev(fn, "x", x_), y = dev(fn, "out", y_);
    const Kind k = float_kind(fn, "x", x);
    expect_kind(fn, "out", y, k, "x");
    expect_shape(fn, "out", y, x.shape);
    expect_writable(fn, "out", y);
    DeviceGuard guard(common_device(fn, {&x, &y}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::activation_forward<T>(a, x.numel, x.p<T>(), y.p<T>(), param, stream_of(stream));
    });
  });
  m.def("activation_backward", [](int op, py::handle g_, py::handle v_, py::handle dx_, double param,
                                  std::uintptr_t stream) {
    const char* fn = "activation_backward";
    const pc::Act a = act_of(fn, op);
    Dev g = dev(fn, "grad_output", g_), v = dev(fn, "saved", v_), dx = dev(fn, "out", dx_);
    const Kind k = float_kind(fn, "grad_output", g);
    expect_kind(fn, "saved", v, k, "grad_output");
    expect_kind(fn, "out", dx, k, "grad_output");
    expect_shape(fn, "saved", v, g.shape);
    expect_shape(fn, "out", dx, g.shape);
    expect_writable(fn, "out", dx);
    DeviceGuard guard(common_device(fn, {&g, &v, &dx}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::activation_backward<T>(a, g.numel, g.p<T>(), v.p<T>(), dx.p<T>(), param, stream_of(stream));
    });
  });
}

void bind_dropout(py::module_& m) {
  m.def("dropout_forward", [](py::handle x_, py::handle y_, py::handle mask_, double p, std::uint64_t seed,
                              std::uintptr_t stream) {
    const char* fn = "dropout_forward";
    if (!(p >= 0.0 && p < 1.0)) value_error(cat(fn, ": p must be in [0, 1), got ", p));
    Dev x = dev(fn, "x", x_), y = dev(fn, "out", y_), mask = dev(fn, "mask", mask_);
    const Kind k = float_kind(fn, "x", x);
    expect_kind(fn, "out", y, k, "x");
    expect_kind(fn, "mask", mask, Kind::u8);
    expect_shape(fn, "out", y, x.shape);
    expect_shape(fn, "mask", mask, x.shape);
    expect_writable(fn, "out", y);
    expect_writable(fn, "mask", mask);
    DeviceGuard guard(common_device(fn, {&x, &y, &mask}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::dropout_forward<T>(x.numel, x.p<T>(), y.p<T>(), mask.p<std::uint8_t>(), p, seed, stream_of(stream));
    });
  });
  m.def("dropout_backward", [](py::handle g_, py::handle mask_, py::handle dx_, double p, std::uintptr_t stream) {
    const char* fn = "dropout_backward";
    if (!(p >= 0.0 && p < 1.0)) value_error(cat(fn, ": p must be in [0, 1), got ", p));
    Dev g = dev(fn, "grad_output", g_), mask = dev(fn, "mask", mask_), dx = dev(fn, "out", dx_);
    const Kind k = float_kind(fn, "grad_output", g);
    expect_kind(fn, "out", dx, k, "grad_output");
    expect_kind(fn, "mask", mask, Kind::u8);
    expect_shape(fn, "mask", mask, g.shape);
    expect_shape(fn, "out", dx, g.shape);
    expect_writable(fn, "out", dx);
    DeviceGuard guard(common_device(fn, {&g, &mask, &dx}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::dropout_backward<T>(g.numel, g.p<T>(), mask.p<std::uint8_t>(), dx.p<T>(), p, stream_of(stream));
    });
  });
  m.def("dropout_keep_host", [](std::uint64_t seed, std::uint64_t i, double p) {
    return pc::dropout_keep(pc::dropout_key(seed), i, pc::dropout_threshold(p));
  }, "Whether dropout keeps element i for (seed, p), computed on the host by the device's code.");
}

void bind_reduce(py::module_& m) {
  m.def("channel_sum", [](py::handle x_, py::handle out_, index_t A, index_t C, index_t B, double scale,
                          std::uintptr_t stream) {
    const char* fn = "channel_sum";
    Dev x = dev(fn, "x", x_), out = dev(fn, "out", out_);
    const Kind k = float_kind(fn, "x", x);
    expect_kind(fn, "out", out, k, "x");
    non_negative(fn, "A", A); non_negative(fn, "C", C); non_negative(fn, "B", B);
    expect_numel(fn, "x", x, prod(fn, {A, C, B}));
    expect_numel(fn, "out", out, C);
    expect_writable(fn, "out", out);
    DeviceGuard guard(common_device(fn, {&x, &out}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::channel_sum<T>(A, C, B, x.p<T>(), out.p<T>(), scale, stream_of(stream));
    });
  });
}

// (O, D, I) around `axis` of a shape.
std::tuple<index_t, index_t, index_t> around_axis(const char* fn, const std::vector<index_t>& shape, index_t axis) {
  const index_t nd = static_cast<index_t>(shape.size());
  if (nd == 0) value_error(cat(fn, ": x must have at least 1 dimension"));
  if (axis < -nd || axis >= nd) value_error(cat(fn, ": axis ", axis, " is out of range for ", nd, "-D input"));
  if (axis < 0) axis += nd;
  index_t O = 1, I = 1;
  for (index_t i = 0; i < axis; ++i) O *= shape[i];
  for (index_t i = axis + 1; i < nd; ++i) I *= shape[i];
  return {O, shape[axis], I};
}

void bind_softmax(py::module_& m) {
  m.def("softmax_forward", [](bool log, py::handle x_, py::handle y_, index_t axis, std::uintptr_t stream) {
    const char* fn = log ? "log_softmax_forward" : "softmax_forward";
    Dev x = dev(fn, "x", x_), y = dev(fn, "out", y_);
    const Kind k = float_kind(fn, "x", x);
    expect_kind(fn, "out", y, k, "x");
    expect_shape(fn, "out", y, x.shape);
    expect_writable(fn, "out", y);
    auto [O, D, I] = around_axis(fn, x.shape, axis);
    DeviceGuard guard(common_device(fn, {&x, &y}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::softmax_forward<T>(log, O, D, I, x.p<T>(), y.p<T>(), stream_of(stream));
    });
  });
  m.def("softmax_backward", [](bool log, py::handle g_, py::handle y_, py::handle dx_, index_t axis,
                               std::uintptr_t stream) {
    const char* fn = log ? "log_softmax_backward" : "softmax_backward";
    Dev g = dev(fn, "grad_output", g_), y = dev(fn, "output", y_), dx = dev(fn, "out", dx_);
    const Kind k = float_kind(fn, "grad_output", g);
    expect_kind(fn, "output", y, k, "grad_output");
    expect_kind(fn, "out", dx, k, "grad_output");
    expect_shape(fn, "output", y, g.shape);
    expect_shape(fn, "out", dx, g.shape);
    expect_writable(fn, "out", dx);
    auto [O, D, I] = around_axis(fn, g.shape, axis);
    DeviceGuard guard(common_device(fn, {&g, &y, &dx}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::softmax_backward<T>(log, O, D, I, g.p<T>(), y.p<T>(), dx.p<T>(), stream_of(stream));
    });
  });
  m.def("cross_entropy_forward", [](py::handle x_, py::handle t_, py::handle l_, std::uintptr_t stream) {
    const char* fn = "cross_entropy_forward";
    Dev x = dev(fn, "logits", x_), t = dev(fn, "target", t_), l = dev(fn, "out", l_);
    const Kind k = float_kind(fn, "logits", x);
    expect_kind(fn, "target", t, Kind::i64);
    expect_kind(fn, "out", l, k, "logits");
    expect_ndim(fn, "logits", x, 2);
    expect_shape(fn, "target", t, {x.dim(0)});
    expect_shape(fn, "out", l, {x.dim(0)});
    expect_writable(fn, "out", l);
    DeviceGuard guard(common_device(fn, {&x, &t, &l}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::cross_entropy_forward<T>(x.dim(0), x.dim(1), x.p<T>(), t.p<std::int64_t>(), l.p<T>(), stream_of(stream));
    });
  });
  m.def("cross_entropy_backward", [](py::handle go_, bool per_row, double scale, py::handle x_, py::handle t_,
                                     py::handle dx_, std::uintptr_t stream) {
    const char* fn = "cross_entropy_backward";
    Dev go = dev(fn, "grad_output", go_), x = dev(fn, "logits", x_), t = dev(fn, "target", t_),
        dx = dev(fn, "out", dx_);
    const Kind k = float_kind(fn, "logits", x);
    expect_kind(fn, "grad_output", go, k, "logits");
    expect_kind(fn, "target", t, Kind::i64);
    expect_kind(fn, "out", dx, k, "logits");
    expect_ndim(fn, "logits", x, 2);
    expect_shape(fn, "target", t, {x.dim(0)});
    expect_numel(fn, "grad_output", go, per_row ? x.dim(0) : 1);
    expect_shape(fn, "out", dx, x.shape);
    expect_writable(fn, "out", dx);
    DeviceGuard guard(common_device(fn, {&go, &x, &t, &dx}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::cross_entropy_backward<T>(x.dim(0), x.dim(1), go.p<T>(), per_row, scale, x.p<T>(), t.p<std::int64_t>(),
                                    dx.p<T>(), stream_of(stream));
    });
  });
}

// (N, C, L) of a batch-norm input (N, C) or (N, C, H, W).
std::tuple<index_t, index_t, index_t> bn_dims(const char* fn, const Dev& x) {
  if (x.ndim() == 2) return {x.dim(0), x.dim(1), 1};
  if (x.ndim() == 4) return {x.dim(0), x.dim(1), x.dim(2) * x.dim(3)};
  value_error(cat(fn, ": x must be 2-D (N, C) or 4-D (N, C, H, W), got ", shape_str(x.shape)));
}

void bind_batch_norm(py::module_& m) {
  m.def("batch_norm_forward", [](py::handle x_, py::handle w_, py::handle b_, py::handle rm_, py::handle rv_,
                                 bool training, double momentum, double eps, py::handle y_, py::handle sm_,
                                 py::handle si_, std::uintptr_t stream) {
    const char* fn = "batch_norm_forward";
    Dev x = dev(fn, "x", x_), w = dev(fn, "weight", w_, true), b = dev(fn, "bias", b_, true),
        rm = dev(fn, "running_mean", rm_, true), rv = dev(fn, "running_var", rv_, true), y = dev(fn, "out", y_),
        sm = dev(fn, "save_mean", sm_), si = dev(fn, "save_invstd", si_);
    const Kind k = float_kind(fn, "x", x);
    for (auto [n, d] : {std::pair{"weight", &w}, {"bias", &b}, {"running_mean", &rm}, {"running_var", &rv},
                        {"out", &y}, {"save_mean", &sm}, {"save_invstd", &si}})
      expect_kind(fn, n, *d, k, "x");
    auto [N, C, L] = bn_dims(fn, x);
    for (auto [n, d] : {std::pair{"weight", &w}, {"bias", &b}, {"running_mean", &rm}, {"running_var", &rv},
                        {"save_mean", &sm}, {"save_invstd", &si}})
      expect_shape(fn, n, *d, {C});
    expect_shape(fn, "out", y, x.shape);
    if (rm.present != rv.present) value_error(cat(fn, ": running_mean and running_var must both be given or both None"));
    if (!training && !rm.present) value_error(cat(fn, ": eval mode needs running_mean and running_var"));
    if (training && N * L == 1) value_error(cat(fn, ": training needs more than 1 value per channel"));
    if (!(eps >= 0.0)) value_error(cat(fn, ": eps must be >= 0, got ", eps));
    for (auto [n, d] : {std::pair{"out", &y}, {"save_mean", &sm}, {"save_invstd", &si}, {"running_mean", &rm},
                        {"running_var", &rv}})
      expect_writable(fn, n, *d);
    DeviceGuard guard(common_device(fn, {&x, &w, &b, &rm, &rv, &y, &sm, &si}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::batch_norm_forward<T>(N, C, L, x.p<T>(), w.present ? w.p<T>() : nullptr, b.present ? b.p<T>() : nullptr,
                                rm.present ? rm.p<T>() : nullptr, rv.present ? rv.p<T>() : nullptr, training, momentum,
                                eps, y.p<T>(), sm.p<T>(), si.p<T>(), stream_of(stream));
    });
  });
  m.def("batch_norm_backward", [](py::handle g_, py::handle x_, py::handle w_, py::handle sm_, py::handle si_,
                                  bool training, py::handle gx_, py::handle gw_, py::handle gb_, py::handle sums_,
                                  std::uintptr_t stream) {
    const char* fn = "batch_norm_backward";
    Dev g = dev(fn, "grad_output", g_), x = dev(fn, "x", x_), w = dev(fn, "weight", w_, true),
        sm = dev(fn, "save_mean", sm_), si = dev(fn, "save_invstd", si_), gx = dev(fn, "grad_input", gx_, true),
        gw = dev(fn, "grad_weight", gw_, true), gb = dev(fn, "grad_bias", gb_, true), sums = dev(fn, "sums", sums_);
    const Kind k = float_kind(fn, "grad_output", g);
    for (auto [n, d] : {std::pair{"x", &x}, {"weight", &w}, {"save_mean", &sm}, {"save_invstd", &si},
                        {"grad_input", &gx}, {"grad_weight", &gw}, {"grad_bias", &gb}, {"sums", &sums}})
      expect_kind(fn, n, *d, k, "grad_output");
    auto [N, C, L] = bn_dims(fn, x);
    expect_shape(fn, "grad_output", g, x.shape);
    expect_shape(fn, "grad_input", gx, x.shape);
    for (auto [n, d] : {std::pair{"weight", &w}, {"save_mean", &sm}, {"save_invstd", &si}, {"grad_weight", &gw},
                        {"grad_bias", &gb}})
      expect_shape(fn, n, *d, {C});
    expect_numel(fn, "sums", sums, 2 * C);
    for (auto [n, d] : {std::pair{"grad_input", &gx}, {"grad_weight", &gw}, {"grad_bias", &gb}, {"sums", &sums}})
      expect_writable(fn, n, *d);
    DeviceGuard guard(common_device(fn, {&g, &x, &w, &sm, &si, &gx, &gw, &gb, &sums}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::batch_norm_backward<T>(N, C, L, g.p<T>(), x.p<T>(), w.present ? w.p<T>() : nullptr, sm.p<T>(), si.p<T>(),
                                 training, gx.present ? gx.p<T>() : nullptr, gw.present ? gw.p<T>() : nullptr,
                                 gb.present ? gb.p<T>() : nullptr, sums.p<T>(), stream_of(stream));
    });
  });
}

// param, grad and every given state buffer: one dtype, one shape; param and states written in place.
Kind check_update(const char* fn, const Dev& p, const Dev& g, std::initializer_list<std::pair<const char*, const Dev*>> st) {
  const Kind k = float_kind(fn, "param", p);
  expect_kind(fn, "grad", g, k, "param");
  expect_shape(fn, "grad", g, p.shape);
  expect_writable(fn, "param", p);
  for (auto [n, d] : st) {
    expect_kind(fn, n, *d, k, "param");
    expect_shape(fn, n, *d, p.shape);
    expect_writable(fn, n, *d);
  }
  return k;
}

template <typename T>
T* opt(const Dev& d) { return d.present ? d.p<T>() : nullptr; }

void bind_optim(py::module_& m) {
  m.def("sgd_step", [](py::handle p_, py::handle g_, py::handle b_, double lr, double momentum, double dampening,
                       double wd, bool nesterov, bool maximize, bool first_step, std::uintptr_t stream) {
    const char* fn = "sgd_step";
    Dev p = dev(fn, "param", p_), g = dev(fn, "grad", g_), b = dev(fn, "momentum_buffer", b_, true);
    const Kind k = check_update(fn, p, g, {{"momentum_buffer", &b}});
    if (momentum != 0.0 && !b.present) value_error(cat(fn, ": momentum_buffer is required when momentum != 0"));
    DeviceGuard guard(common_device(fn, {&p, &g, &b}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::sgd_step<T>(p.numel, p.p<T>(), g.p<T>(), opt<T>(b), lr, momentum, dampening, wd, nesterov, maximize,
                      first_step, stream_of(stream));
    });
  });
  m.def("adam_step", [](py::handle p_, py::handle g_, py::handle m_, py::handle v_, py::handle vm_, index_t step,
                        double lr, double b1, double b2, double eps, double wd, bool decoupled, bool maximize,
                        std::uintptr_t stream) {
    const char* fn = "adam_step";
    Dev p = dev(fn, "param", p_), g = dev(fn, "grad", g_), ma = dev(fn, "exp_avg", m_), v = dev(fn, "exp_avg_sq", v_),
        vm = dev(fn, "max_exp_avg_sq", vm_, true);
    const Kind k = check_update(fn, p, g, {{"exp_avg", &ma}, {"exp_avg_sq", &v}, {"max_exp_avg_sq", &vm}});
    positive(fn, "step", step);
    DeviceGuard guard(common_device(fn, {&p, &g, &ma, &v, &vm}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::adam_step<T>(p.numel, p.p<T>(), g.p<T>(), ma.p<T>(), v.p<T>(), opt<T>(vm), step, lr, b1, b2, eps, wd,
                       decoupled, maximize, stream_of(stream));
    });
  });
  m.def("rmsprop_step", [](py::handle p_, py::handle g_, py::handle v_, py::handle b_, py::handle ga_, double lr,
                           double alpha, double eps, double wd, double momentum, bool maximize, std::uintptr_t stream) {
    const char* fn = "rmsprop_step";
    Dev p = dev(fn, "param", p_), g = dev(fn, "grad", g_), v = dev(fn, "square_avg", v_),
        b = dev(fn, "momentum_buffer", b_, true), ga = dev(fn, "grad_avg", ga_, true);
    const Kind k = check_update(fn, p, g, {{"square_avg", &v}, {"momentum_buffer", &b}, {"grad_avg", &ga}});
    if (momentum > 0.0 && !b.present) value_error(cat(fn, ": momentum_buffer is required when momentum > 0"));
    DeviceGuard guard(common_device(fn, {&p, &g, &v, &b, &ga}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::rmsprop_step<T>(p.numel, p.p<T>(), g.p<T>(), v.p<T>(), opt<T>(b), opt<T>(ga), lr, alpha, eps, wd, momentum,
                          maximize, stream_of(stream));
    });
  });
  m.def("adagrad_step", [](py::handle p_, py::handle g_, py::handle s_, index_t step, double lr, double lr_decay,
                           double wd, double eps, bool maximize, std::uintptr_t stream) {
    const char* fn = "adagrad_step";
    Dev p = dev(fn, "param", p_), g = dev(fn, "grad", g_), s = dev(fn, "state_sum", s_);
    const Kind k = check_update(fn, p, g, {{"state_sum", &s}});
    positive(fn, "step", step);
    DeviceGuard guard(common_device(fn, {&p, &g, &s}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::adagrad_step<T>(p.numel, p.p<T>(), g.p<T>(), s.p<T>(), step, lr, lr_decay, wd, eps, maximize,
                          stream_of(stream));
    });
  });
}

}  // namespace

void bind_cuda_pointwise(py::module_& m) {
  bind_activation(m);
  bind_dropout(m);
  bind_reduce(m);
  bind_softmax(m);
  bind_batch_norm(m);
  bind_optim(m);
}

}  // namespace pyengine::cudabind
