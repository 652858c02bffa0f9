// cuda_bind_dense.cpp — pyengine._cuda bindings of the GEMM-shaped families: gemm, im2col/col2im,
// conv2d, pooling, the LSTM gate kernels. Outputs and workspaces are allocated by the caller
// (pyengine/kernels/cuda, through CuPy's memory pool) and passed in; every shape a launcher relies
// on is re-derived and checked here. `stream` is the integer cudaStream_t of CuPy's current stream.
#include <cstdint>

#include "cuda_bind_util.h"
#include "pyengine/cuda/conv2d.h"
#include "pyengine/cuda/gemm.h"
#include "pyengine/cuda/lstm.h"
#include "pyengine/cuda/pool2d.h"

namespace pyengine::cudabind {
namespace pc = pyengine::cuda;
using Pair = std::pair<index_t, index_t>;

namespace {

void bind_gemm(py::module_& m) {
  m.def(
      "gemm",
      [](py::handle a_, py::handle b_, py::handle c_, py::handle out_, bool ta, bool tb, double alpha, double beta,
         py::handle bias_, bool bias_per_row, bool tf32, std::uintptr_t stream) {
        const char* fn = "gemm";
        Dev a = dev(fn, "a", a_), b = dev(fn, "b", b_), c = dev(fn, "c", c_, true), out = dev(fn, "out", out_);
        Dev bias = dev(fn, "bias", bias_, true);
        const Kind k = float_kind(fn, "a", a);
        expect_kind(fn, "b", b, k, "a");
        expect_kind(fn, "c", c, k, "a");
        expect_kind(fn, "out", out, k, "a");
        expect_kind(fn, "bias", bias, k, "a");
        expect_ndim(fn, "a", a, 2);
        expect_ndim(fn, "b", b, 2);
        const index_t M = ta ? a.dim(1) : a.dim(0), K = ta ? a.dim(0) : a.dim(1);
        const index_t Kb = tb ? b.dim(1) : b.dim(0), N = tb ? b.dim(0) : b.dim(1);
        if (K != Kb) value_error(cat(fn, ": inner dimensions ", K, " and ", Kb, " differ"));
        expect_shape(fn, "out", out, {M, N});
        expect_shape(fn, "c", c, {M, N});
        expect_writable(fn, "out", out);
        if (bias.present) expect_shape(fn, "bias", bias, {bias_per_row ? M : N});
        if (tf32 && k != Kind::f32) value_error(cat(fn, ": tf32 applies to float32 only"));
        DeviceGuard guard(common_device(fn, {&a, &b, &c, &out, &bias}));
        py::gil_scoped_release release;
        dispatch(k, [&](auto* tag) {
          using T = std::remove_pointer_t<decltype(tag)>;
          pc::GemmProblem<T> p;
          p.M = M; p.N = N; p.K = K;
          p.a.ptr = a.p<T>(); p.a.ld = a.dim(1); p.a.k_contig = !ta;
          p.b.ptr = b.p<T>(); p.b.ld = b.dim(1); p.b.k_contig = tb;
          p.out = out.p<T>(); p.ldc = N;
          p.c_in = (c.present && beta != 0.0) ? c.p<T>() : nullptr;
          p.alpha = static_cast<T>(alpha); p.beta = static_cast<T>(beta);
          p.bias = bias.present ? bias.p<T>() : nullptr; p.bias_per_row = bias_per_row;
          p.tf32 = tf32;
          pc::gemm_batched(p, stream_of(stream));
        });
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("out"), py::arg("trans_a"), py::arg("trans_b"),
      py::arg("alpha"), py::arg("beta"), py::arg("bias"), py::arg("bias_per_row"), py::arg("tf32"), py::arg("stream"),
      "out = alpha·op(a)·op(b) + beta·c + bias (per row of out when bias_per_row, else per column).");
}

// The convolution geometry from x (N,C,H,W), weight shape (K,Cg,R,S) and the parameters; output
// size by the usual formula, rejected when below 1.
pc::ConvShape conv_shape(const char* fn, const std::vector<index_t>& xs, const std::vector<index_t>& ws, Pair st,
                         Pair pad, Pair dil, index_t groups) {
  if (xs.size() != 4) value_error(cat(fn, ": input must be 4-D (N, C, H, W), got ", shape_str(xs)));
  if (ws.size() != 4) value_error(cat(fn, ": weight must be 4-D (K, C/groups, R, S), got ", shape_str(ws)));
  positive(fn, "stride", st.first); positive(fn, "stride", st.second);
  non_negative(fn, "padding", pad.first); non_negative(fn, "padding", pad.second);
  positive(fn, "dilation", dil.first); positive(fn, "dilation", dil.second);
  positive(fn, "groups", groups);
  pc::ConvShape s{};
  s.N = xs[0]; s.C = xs[1]; s.H = xs[2]; s.W = xs[3];
  s.K = ws[0]; s.R = ws[2]; s.S = ws[3]; s.G = groups;
  s.sh = st.first; s.sw = st.second; s.ph = pad.first; s.pw = pad.second; s.dh = dil.first; s.dw = dil.second;
  positive(fn, "kernel height", s.R); positive(fn, "kernel width", s.S);
  if (s.C % groups != 0 || s.K % groups != 0)
    value_error(cat(fn, ": channels ", s.C, " and ", s.K, " must both be divisible by groups ", groups));
  if (ws[1] * groups != s.C)
    value_error(cat(fn, ": weight expects ", ws[1] * groups, " input channels, x has ", s.C));
  const index_t span_h = s.dh * (s.R - 1) + 1, span_w = s.dw * (s.S - 1) + 1;
  if (s.H + 2 * s.ph < span_h || s.W + 2 * s.pw < span_w)
    value_error(cat(fn, ": kernel larger than the padded input"));
  s.OH = (s.H + 2 * s.ph - span_h) / s.sh + 1;
  s.OW = (s.W + 2 * s.pw - span_w) / s.sw + 1;
  prod(fn, {s.N, s.C, s.H, s.W});
  prod(fn, {s.N, s.C, s.R, s.S, s.OH, s.OW});
  prod(fn, {s.N, s.K, s.OH, s.OW});
  return s;
}

void check_workspace(const char* fn, const pc::ConvShape& s, const Dev& ws, index_t chunk, bool needed) {
  if (!needed) return;
  if (chunk < 1) value_error(cat(fn, ": chunk must be >= 1 for this convolution, got ", chunk));
  const index_t need = prod(fn, {chunk, s.C, s.R, s.S, s.OH, s.OW});
  if (!ws.present || ws.numel < need)
    value_error(cat(fn, ": workspace must hold ", need, " elements, got ", ws.present ? ws.numel : 0));
}

void bind_conv2d(py::module_& m) {
  m.def(
      "conv2d_plan",
      [](std::vector<index_t> xs, std::vector<index_t> wsh, Pair st, Pair pad, Pair dil, index_t groups,
         index_t budget, bool forward) {
        const pc::ConvShape s = conv_shape("conv2d_plan", xs, wsh, st, pad, dil, groups);
        const index_t chunk = pc::conv2d_chunk(s, budget, forward);
        return py::make_tuple(chunk, chunk * s.C * s.R * s.S * s.OH * s.OW, s.OH, s.OW);
      },
      "(chunk, workspace elements, OH, OW) for a convolution: forward may use the direct kernel.");

  m.def(
      "im2col",
      [](py::handle x_, py::handle cols_, Pair ksz, Pair st, Pair pad, Pair dil, std::uintptr_t stream) {
        const char* fn = "im2col";
        Dev x = dev(fn, "x", x_), cols = dev(fn, "cols", cols_);
        const Kind k = float_kind(fn, "x", x);
        expect_kind(fn, "cols", cols, k, "x");
        expect_ndim(fn, "x", x, 4);
        const pc::ConvShape s = conv_shape(fn, x.shape, {1, x.dim(1), ksz.first, ksz.second}, st, pad, dil, 1);
        expect_shape(fn, "cols", cols, {s.N, s.C * s.R * s.S, s.OH * s.OW});
        expect_writable(fn, "cols", cols);
        DeviceGuard guard(common_device(fn, {&x, &cols}));
        py::gil_scoped_release release;
        dispatch(k, [&](auto* tag) {
          using T = std::remove_pointer_t<decltype(tag)>;
          pc::im2col<T>(s, x.p<T>(), cols.p<T>(), stream_of(stream));
        });
      });

  m.def(
      "col2im",
      [](py::handle cols_, py::handle x_, Pair ksz, Pair st, Pair pad, Pair dil, std::uintptr_t stream) {
        const char* fn = "col2im";
        Dev cols = dev(fn, "cols", cols_), x = dev(fn, "out", x_);
        const Kind k = float_kind(fn, "cols", cols);
        expect_kind(fn, "out", x, k, "cols");
        expect_ndim(fn, "out", x, 4);
        const pc::ConvShape s = conv_shape(fn, x.shape, {1, x.dim(1), ksz.first, ksz.second}, st, pad, dil, 1);
        expect_shape(fn, "cols", cols, {s.N, s.C * s.R * s.S, s.OH * s.OW});
        expect_writable(fn, "out", x);
        DeviceGuard guard(common_device(fn, {&x, &cols}));
        py::gil_scoped_release release;
        dispatch(k, [&](auto* tag) {
          using T = std::remove_pointer_t<decltype(tag)>;
          pc::col2im<T>(s, cols.p<T>(), x.p<T>(), stream_of(stream));
        });
      });

  m.def(
      "conv2d_forward",
      [](py::handle x_, py::handle w_, py::handle b_, py::handle y_, py::handle ws_, index_t chunk, Pair st, Pair pad,
         Pair dil, index_t groups, bool tf32, std::uintptr_t stream) {
        const char* fn = "conv2d_forward";
        Dev x = dev(fn, "x", x_), w = dev(fn, "weight", w_), b = dev(fn, "bias", b_, true), y = dev(fn, "out", y_);
        Dev ws = dev(fn, "workspace", ws_, true);
        const Kind k = float_kind(fn, "x", x);
        for (auto [n, d] : {std::pair{"weight", &w}, {"bias", &b}, {"out", &y}, {"workspace", &ws}})
          expect_kind(fn, n, *d, k, "x");
        const pc::ConvShape s = conv_shape(fn, x.shape, w.shape, st, pad, dil, groups);
        if (b.present) expect_shape(fn, "bias", b, {s.K});
        expect_shape(fn, "out", y, {s.N, s.K, s.OH, s.OW});
        expect_writable(fn, "out", y);
        const bool direct = chunk == 0 && pc::conv2d_direct_ok(s) && !pc::conv2d_is_pointwise(s);
        check_workspace(fn, s, ws, chunk, !direct && !pc::conv2d_is_pointwise(s));
        if (tf32 && k != Kind::f32) value_error(cat(fn, ": tf32 applies to float32 only"));
        DeviceGuard guard(common_device(fn, {&x, &w, &b, &y, &ws}));
        py::gil_scoped_release release;
        dispatch(k, [&](auto* tag) {
          using T = std::remove_pointer_t<decltype(tag)>;
          pc::conv2d_forward<T>(s, x.p<T>(), w.p<T>(), b.present ? b.p<T>() : nullptr, y.p<T>(),
                                ws.present ? ws.p<T>() : nullptr, chunk, tf32, stream_of(stream));
        });
      });

  m.def(
      "conv2d_backward_input",
      [](py::handle gy_, py::handle w_, py::handle gx_, py::handle ws_, index_t chunk, Pair st, Pair pad, Pair dil,
         index_t groups, bool tf32, std::uintptr_t stream) {
        const char* fn = "conv2d_backward_input";
        Dev gy = dev(fn, "grad_output", gy_), w = dev(fn, "weight", w_), gx = dev(fn, "out", gx_);
        Dev ws = dev(fn, "workspace", ws_, true);
        const Kind k = float_kind(fn, "grad_output", gy);
        for (auto [n, d] : {std::pair{"weight", &w}, {"out", &gx}, {"workspace", &ws}})
          expect_kind(fn, n, *d, k, "grad_output");
        const pc::ConvShape s = conv_shape(fn, gx.shape, w.shape, st, pad, dil, groups);
        expect_shape(fn, "grad_output", gy, {s.N, s.K, s.OH, s.OW});
        expect_writable(fn, "out", gx);
        check_workspace(fn, s, ws, chunk, !pc::conv2d_is_pointwise(s));
        if (tf32 && k != Kind::f32) value_error(cat(fn, ": tf32 applies to float32 only"));
        DeviceGuard guard(common_device(fn, {&gy, &w, &gx, &ws}));
        py::gil_scoped_release release;
        dispatch(k, [&](auto* tag) {
          using T = std::remove_pointer_t<decltype(tag)>;
          pc::conv2d_backward_input<T>(s, gy.p<T>(), w.p<T>(), gx.p<T>(), ws.present ? ws.p<T>() : nullptr, chunk,
                                       tf32, stream_of(stream));
        });
      });

  m.def(
      "conv2d_backward_weight",
      [](py::handle gy_, py::handle x_, py::handle gw_, py::handle ws_, index_t chunk, Pair st, Pair pad, Pair dil,
         index_t groups, bool tf32, std::uintptr_t stream) {
        const char* fn = "conv2d_backward_weight";
        Dev gy = dev(fn, "grad_output", gy_), x = dev(fn, "x", x_), gw = dev(fn, "out", gw_);
        Dev ws = dev(fn, "workspace", ws_, true);
        const Kind k = float_kind(fn, "grad_output", gy);
        for (auto [n, d] : {std::pair{"x", &x}, {"out", &gw}, {"workspace", &ws}})
          expect_kind(fn, n, *d, k, "grad_output");
        const pc::ConvShape s = conv_shape(fn, x.shape, gw.shape, st, pad, dil, groups);
        expect_shape(fn, "grad_output", gy, {s.N, s.K, s.OH, s.OW});
        expect_writable(fn, "out", gw);
        check_workspace(fn, s, ws, chunk, !pc::conv2d_is_pointwise(s) && s.N > 0);
        if (tf32 && k != Kind::f32) value_error(cat(fn, ": tf32 applies to float32 only"));
        DeviceGuard guard(common_device(fn, {&gy, &x, &gw, &ws}));
        py::gil_scoped_release release;
        dispatch(k, [&](auto* tag) {
          using T = std::remove_pointer_t<decltype(tag)>;
          pc::conv2d_backward_weight<T>(s, gy.p<T>(), x.p<T>(), gw.p<T>(), ws.present ? ws.p<T>() : nullptr, chunk,
                                        tf32, stream_of(stream));
        });
      });
}

// Pool geometry from the input and output arrays (output size chosen by the caller; every tap is
// bounds-checked in the kernels, so any output size is memory-safe).
pc::PoolShape pool_shape(const char* fn, const Dev& x, const Dev& y, Pair ksz, Pair st, Pair pad, Pair dil) {
  expect_ndim(fn, "input", x, 4);
  expect_ndim(fn, "output", y, 4);
  if (y.dim(0) != x.dim(0) || y.dim(1) != x.dim(1))
    value_error(cat(fn, ": output ", shape_str(y.shape), " does not match input ", shape_str(x.shape),
                    " in batch and channels"));
  positive(fn, "kernel_size", ksz.first); positive(fn, "kernel_size", ksz.second);
  positive(fn, "stride", st.first); positive(fn, "stride", st.second);
  non_negative(fn, "padding", pad.first); non_negative(fn, "padding", pad.second);
  positive(fn, "dilation", dil.first); positive(fn, "dilation", dil.second);
  pc::PoolShape s{};
  s.N = x.dim(0); s.C = x.dim(1); s.H = x.dim(2); s.W = x.dim(3); s.OH = y.dim(2); s.OW = y.dim(3);
  s.kh = ksz.first; s.kw = ksz.second; s.sh = st.first; s.sw = st.second; s.ph = pad.first; s.pw = pad.second;
  s.dh = dil.first; s.dw = dil.second;
  return s;
}

void bind_pool2d(py::module_& m) {
  m.def("max_pool2d_forward", [](py::handle x_, py::handle y_, py::handle ind_, Pair ksz, Pair st, Pair pad, Pair dil,
                                 std::uintptr_t stream) {
    const char* fn = "max_pool2d_forward";
    Dev x = dev(fn, "x", x_), y = dev(fn, "out", y_), ind = dev(fn, "indices", ind_);
    const Kind k = float_kind(fn, "x", x);
    expect_kind(fn, "out", y, k, "x");
    expect_kind(fn, "indices", ind, Kind::i64);
    const pc::PoolShape s = pool_shape(fn, x, y, ksz, st, pad, dil);
    expect_shape(fn, "indices", ind, y.shape);
    expect_writable(fn, "out", y);
    expect_writable(fn, "indices", ind);
    DeviceGuard guard(common_device(fn, {&x, &y, &ind}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::max_pool2d_forward<T>(s, x.p<T>(), y.p<T>(), ind.p<std::int64_t>(), stream_of(stream));
    });
  });
  m.def("max_pool2d_backward_input", [](py::handle gy_, py::handle ind_, py::handle gx_, std::uintptr_t stream) {
    const char* fn = "max_pool2d_backward_input";
    Dev gy = dev(fn, "grad_output", gy_), ind = dev(fn, "indices", ind_), gx = dev(fn, "out", gx_);
    const Kind k = float_kind(fn, "grad_output", gy);
    expect_kind(fn, "out", gx, k, "grad_output");
    expect_kind(fn, "indices", ind, Kind::i64);
    expect_ndim(fn, "grad_output", gy, 4);
    expect_ndim(fn, "out", gx, 4);
    if (gy.dim(0) != gx.dim(0) || gy.dim(1) != gx.dim(1))
      value_error(cat(fn, ": grad_output ", shape_str(gy.shape), " does not match input ", shape_str(gx.shape),
                      " in batch and channels"));
    expect_shape(fn, "indices", ind, gy.shape);
    expect_writable(fn, "out", gx);
    const index_t NC = gx.dim(0) * gx.dim(1), HW = gx.dim(2) * gx.dim(3), OHW = gy.dim(2) * gy.dim(3);
    DeviceGuard guard(common_device(fn, {&gy, &ind, &gx}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::max_pool2d_backward_input<T>(NC, HW, OHW, gy.p<T>(), ind.p<std::int64_t>(), gx.p<T>(), stream_of(stream));
    });
  });
  m.def("avg_pool2d_forward", [](py::handle x_, py::handle y_, Pair ksz, Pair st, Pair pad, bool include_pad,
                                 std::uintptr_t stream) {
    const char* fn = "avg_pool2d_forward";
    Dev x = dev(fn, "x", x_), y = dev(fn, "out", y_);
    const Kind k = float_kind(fn, "x", x);
    expect_kind(fn, "out", y, k, "x");
    const pc::PoolShape s = pool_shape(fn, x, y, ksz, st, pad, {1, 1});
    expect_writable(fn, "out", y);
    DeviceGuard guard(common_device(fn, {&x, &y}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::avg_pool2d_forward<T>(s, include_pad, x.p<T>(), y.p<T>(), stream_of(stream));
    });
  });
  m.def("avg_pool2d_backward_input", [](py::handle gy_, py::handle gx_, Pair ksz, Pair st, Pair pad, bool include_pad,
                                        std::uintptr_t stream) {
    const char* fn = "avg_pool2d_backward_input";
    Dev gy = dev(fn, "grad_output", gy_), gx = dev(fn, "out", gx_);
    const Kind k = float_kind(fn, "grad_output", gy);
    expect_kind(fn, "out", gx, k, "grad_output");
    const pc::PoolShape s = pool_shape(fn, gx, gy, ksz, st, pad, {1, 1});
    expect_writable(fn, "out", gx);
    DeviceGuard guard(common_device(fn, {&gy, &gx}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::avg_pool2d_backward_input<T>(s, include_pad, gy.p<T>(), gx.p<T>(), stream_of(stream));
    });
  });
  m.def("global_avg_pool2d_forward", [](py::handle x_, py::handle y_, std::uintptr_t stream) {
    const char* fn = "global_avg_pool2d_forward";
    Dev x = dev(fn, "x", x_), y = dev(fn, "out", y_);
    const Kind k = float_kind(fn, "x", x);
    expect_kind(fn, "out", y, k, "x");
    expect_ndim(fn, "x", x, 4);
    expect_shape(fn, "out", y, {x.dim(0), x.dim(1), 1, 1});
    expect_writable(fn, "out", y);
    const index_t NC = x.dim(0) * x.dim(1), HW = x.dim(2) * x.dim(3);
    if (HW == 0 && NC > 0) value_error(cat(fn, ": x has an empty plane ", shape_str(x.shape)));
    DeviceGuard guard(common_device(fn, {&x, &y}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::global_avg_pool2d_forward<T>(NC, HW, x.p<T>(), y.p<T>(), stream_of(stream));
    });
  });
  m.def("global_avg_pool2d_backward_input", [](py::handle gy_, py::handle gx_, std::uintptr_t stream) {
    const char* fn = "global_avg_pool2d_backward_input";
    Dev gy = dev(fn, "grad_output", gy_), gx = dev(fn, "out", gx_);
    const Kind k = float_kind(fn, "grad_output", gy);
    expect_kind(fn, "out", gx, k, "grad_output");
    expect_ndim(fn, "out", gx, 4);
    expect_shape(fn, "grad_output", gy, {gx.dim(0), gx.dim(1), 1, 1});
    expect_writable(fn, "out", gx);
    const index_t NC = gx.dim(0) * gx.dim(1), HW = gx.dim(2) * gx.dim(3);
    DeviceGuard guard(common_device(fn, {&gy, &gx}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::global_avg_pool2d_backward_input<T>(NC, HW, gy.p<T>(), gx.p<T>(), stream_of(stream));
    });
  });
}

void bind_lstm(py::module_& m) {
  m.def("lstm_gates_forward", [](py::handle z_, py::handle c_, py::handle act_, py::handle cn_, py::handle hn_,
                                 std::uintptr_t stream) {
    const char* fn = "lstm_gates_forward";
    Dev z = dev(fn, "gates", z_), c = dev(fn, "c", c_), act = dev(fn, "act", act_), cn = dev(fn, "c_next", cn_),
        hn = dev(fn, "h_next", hn_);
    const Kind k = float_kind(fn, "gates", z);
    for (auto [n, d] : {std::pair{"c", &c}, {"act", &act}, {"c_next", &cn}, {"h_next", &hn}})
      expect_kind(fn, n, *d, k, "gates");
    expect_ndim(fn, "c", c, 2);
    const index_t N = c.dim(0), H = c.dim(1);
    expect_shape(fn, "gates", z, {N, 4 * H});
    expect_shape(fn, "act", act, {N, 4 * H});
    expect_shape(fn, "c_next", cn, {N, H});
    expect_shape(fn, "h_next", hn, {N, H});
    for (auto [n, d] : {std::pair{"act", &act}, {"c_next", &cn}, {"h_next", &hn}}) expect_writable(fn, n, *d);
    DeviceGuard guard(common_device(fn, {&z, &c, &act, &cn, &hn}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::lstm_gates_forward<T>(N, H, z.p<T>(), c.p<T>(), act.p<T>(), cn.p<T>(), hn.p<T>(), stream_of(stream));
    });
  });
  m.def("lstm_gates_backward", [](py::handle gh_, py::handle gh2_, py::handle gc_, py::handle act_, py::handle c_,
                                  py::handle cn_, py::handle dz_, py::handle gcp_, std::uintptr_t stream) {
    const char* fn = "lstm_gates_backward";
    Dev gh = dev(fn, "grad_h", gh_), gh2 = dev(fn, "grad_h2", gh2_, true), gc = dev(fn, "grad_c", gc_, true);
    Dev act = dev(fn, "act", act_), c = dev(fn, "c", c_), cn = dev(fn, "c_next", cn_), dz = dev(fn, "dz", dz_),
        gcp = dev(fn, "grad_c_prev", gcp_);
    const Kind k = float_kind(fn, "grad_h", gh);
    for (auto [n, d] : {std::pair{"grad_h2", &gh2}, {"grad_c", &gc}, {"act", &act}, {"c", &c}, {"c_next", &cn},
                        {"dz", &dz}, {"grad_c_prev", &gcp}})
      expect_kind(fn, n, *d, k, "grad_h");
    expect_ndim(fn, "c", c, 2);
    const index_t N = c.dim(0), H = c.dim(1);
    for (auto [n, d] : {std::pair{"grad_h", &gh}, {"grad_h2", &gh2}, {"grad_c", &gc}, {"c_next", &cn},
                        {"grad_c_prev", &gcp}})
      expect_shape(fn, n, *d, {N, H});
    expect_shape(fn, "act", act, {N, 4 * H});
    expect_shape(fn, "dz", dz, {N, 4 * H});
    expect_writable(fn, "dz", dz);
    expect_writable(fn, "grad_c_prev", gcp);
    DeviceGuard guard(common_device(fn, {&gh, &gh2, &gc, &act, &c, &cn, &dz, &gcp}));
    py::gil_scoped_release release;
    dispatch(k, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      pc::lstm_gates_backward<T>(N, H, gh.p<T>(), gh2.present ? gh2.p<T>() : nullptr,
                                 gc.present ? gc.p<T>() : nullptr, act.p<T>(), c.p<T>(), cn.p<T>(), dz.p<T>(),
                                 gcp.p<T>(), stream_of(stream));
    });
  });
}

}  // namespace

void bind_cuda_dense(py::module_& m) {
  bind_gemm(m);
  bind_conv2d(m);
  bind_pool2d(m);
  bind_lstm(m);
}

}  // namespace pyengine::cudabind
