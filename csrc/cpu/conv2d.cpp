// conv2d.cpp — 2-D convolution forward and backward (see pyengine/conv2d.h for the contract).
//
// Picks the algorithm per shape (see the header): the register-blocked stride-1 kernels of
// csrc/cpu/isa/conv_s1_isa.cpp for groups 1 and stride 1; else the direct row kernels of
// csrc/cpu/isa/conv_isa.cpp when the reduction per output (Cg·R·S) is small; else im2col +
// pyengine::cpu::gemm:
//  forward          per image and group:  y_g (Kg × L) = w_g (Kg × CgRS) · cols_g, + bias and ReLU in
//                   the GEMM epilogue (gemm_ex)
//  backward_input   per image and group:  gcols = w_gᵀ · gy_g, then col2im into grad_x
//  backward_weight  per chunk of images:  grad_w_g += gy_g (Kg × B·L) · cols_g (CgRS × B·L)ᵀ, the
//                   chunk's columns and grad_y laid side by side so one GEMM covers the chunk
//                   (the whole batch when it fits in the workspace budget).
// Images go to threads when there are at least as many as threads (the GEMMs inside then run on
// one thread); otherwise the GEMM parallelises. Workspaces are thread-local and grow-only.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "pyengine/conv2d.h"
#include "pyengine/gemm.h"
#include "pyengine/isa_dispatch.h"
#include "pyengine/parallel.h"

namespace pyengine::cpu {

PE_ISA_DECLARE(void conv_direct_forward_f(const ConvGeom&, const float*, const float*, const float*, float*, bool))
PE_ISA_DECLARE(void conv_direct_forward_d(const ConvGeom&, const double*, const double*, const double*, double*, bool))
PE_ISA_DECLARE(void conv_direct_backward_input_f(const ConvGeom&, const float*, const float*, float*))
PE_ISA_DECLARE(void conv_direct_backward_input_d(const ConvGeom&, const double*, const double*, double*))
PE_ISA_DECLARE(void conv_direct_backward_weight_f(const ConvGeom&, const float*, const float*, float*))
PE_ISA_DECLARE(void conv_direct_backward_weight_d(const ConvGeom&, const double*, const double*, double*))

PE_ISA_DECLARE(void conv_s1_f(const index_t*, const float*, const float*, const float*, float*, bool))
PE_ISA_DECLARE(void conv_s1_d(const index_t*, const double*, const double*, const double*, double*, bool))
PE_ISA_DECLARE(void conv_s1_bw_f(const index_t*, const float*, const float*, float*))
PE_ISA_DECLARE(void conv_s1_bw_d(const index_t*, const double*, const double*, double*))

namespace {

void s1_conv(const index_t* geo, const float* in, const float* wp, const float* b, float* out, bool relu) {
  PE_ISA_CALL(conv_s1_f, geo, in, wp, b, out, relu);
}
void s1_conv(const index_t* geo, const double* in, const double* wp, const double* b, double* out, bool relu) {
  PE_ISA_CALL(conv_s1_d, geo, in, wp, b, out, relu);
}
void s1_backward_weight(const index_t* geo, const float* gy, const float* x, float* gw) {
  PE_ISA_CALL(conv_s1_bw_f, geo, gy, x, gw);
}
void s1_backward_weight(const index_t* geo, const double* gy, const double* x, double* gw) {
  PE_ISA_CALL(conv_s1_bw_d, geo, gy, x, gw);
}

void direct_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  PE_ISA_CALL(conv_direct_forward_f, g, x, w, b, y, relu);
}
void direct_forward(const ConvGeom& g, const double* x, const double* w, const double* b, double* y, bool relu) {
  PE_ISA_CALL(conv_direct_forward_d, g, x, w, b, y, relu);
}
void direct_backward_input(const ConvGeom& g, const float* gy, const float* w, float* gx) {
  PE_ISA_CALL(conv_direct_backward_input_f, g, gy, w, gx);
}
void direct_backward_input(const ConvGeom& g, const double* gy, const double* w, double* gx) {
  PE_ISA_CALL(conv_direct_backward_input_d, g, gy, w, gx);
}
void direct_backward_weight(const ConvGeom& g, const float* gy, const float* x, float* gw) {
  PE_ISA_CALL(conv_direct_backward_weight_f, g, gy, x, gw);
}
void direct_backward_weight(const ConvGeom& g, const double* gy, const double* x, double* gw) {
  PE_ISA_CALL(conv_direct_backward_weight_d, g, gy, x, gw);
}

// Grow-only, 64-byte-aligned workspace of the calling thread (slot: which buffer).
template <typename T>
T* workspace(int slot, index_t count) {
  static thread_local void* buffers[4] = {nullptr, nullptr, nullptr, nullptr};
  static thread_local index_t sizes[4] = {0, 0, 0, 0};
  const index_t bytes = (count < 1 ? 1 : count) * static_cast<index_t>(sizeof(T));
  if (bytes > sizes[slot]) {
    std::free(buffers[slot]);
    const index_t rounded = (bytes + 63) / 64 * 64;
    buffers[slot] = std::aligned_alloc(64, static_cast<size_t>(rounded));
    sizes[slot] = buffers[slot] ? rounded : 0;
  }
  return static_cast<T*>(buffers[slot]);
}

// Column-buffer elements one backward_weight GEMM may use (its chunk of the batch): 64 MiB of float.
constexpr index_t kColumnBudget = index_t(16) << 20;

// The direct kernels win while each output sums over few products (first layers, depthwise).
bool use_direct(const ConvGeom& g) {
  const index_t cg = g.C / g.G;
  return cg * g.R * g.S <= 32 || cg == 1;
}

// 1×1, stride 1, no padding: the image itself is the column matrix.
bool is_pointwise(const ConvGeom& g) {
  return g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// The register-blocked stride-1 kernels (csrc/cpu/isa/conv_s1_isa.cpp) cover groups 1, stride 1.
bool use_s1(const ConvGeom& g) { return g.G == 1 && g.sh == 1 && g.sw == 1; }

// Backward input runs the forward kernel on grad_output padded by dilation·(kernel − 1) − padding,
// which must not be negative.
bool use_s1_backward_input(const ConvGeom& g) {
  return use_s1(g) && g.ph <= g.dh * (g.R - 1) && g.pw <= g.dw * (g.S - 1);
}

template <typename T>
void s1_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
  const index_t geo[13] = {g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.ph, g.pw, g.dh, g.dw, g.OH, g.OW};
  s1_conv(geo, x, w, bias, y, relu);
}

// grad_x = conv(grad_y padded by (dh·(R−1) − ph, dw·(S−1) − pw), weights flipped in (r, s) and
// transposed to (C × K·R·S)).
template <typename T>
void s1_backward_input(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const index_t J = g.K * g.R * g.S, RS = g.R * g.S;
  T* flipped = workspace<T>(0, g.C * J);
  if (!flipped) return;
  for (index_t c = 0; c < g.C; ++c)
    for (index_t k = 0; k < g.K; ++k)
      for (index_t rs = 0; rs < RS; ++rs) flipped[c * J + k * RS + rs] = w[(k * g.C + c) * RS + (RS - 1 - rs)];
  const index_t geo[13] = {g.N, g.K, g.OH, g.OW, g.C, g.R, g.S, g.dh * (g.R - 1) - g.ph, g.dw * (g.S - 1) - g.pw,
                           g.dh, g.dw, g.H, g.W};
  s1_conv(geo, gy, flipped, static_cast<const T*>(nullptr), gx, false);
}

// The stride-1 backward input multiplies the weights with grad_output's zero padding, where the
// reference never forms those products: an inf weight would turn 0·inf into NaN at the border.
// Such weights take the im2col/direct path, which matches the reference exactly.
template <typename T>
bool all_finite(const T* v, index_t n) {
  for (index_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

bool batch_parallel(const ConvGeom& g) {
  const int t = get_num_threads();
  return t > 1 && g.N >= t;
}

template <typename T>
void forward_gemm(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  const index_t crs = Cg * g.R * g.S;
  const bool pointwise = is_pointwise(g);
  const bool par = batch_parallel(g);
  parallel_for(g.N, par ? get_num_threads() : 1, [&](index_t n) {
    T* cols = pointwise ? nullptr : workspace<T>(1, crs * L);
    if (!pointwise && !cols) return;
    for (index_t gr = 0; gr < g.G; ++gr) {
      const T* xg = x + (n * g.C + gr * Cg) * HW;
      T* yg = y + (n * g.K + gr * Kg) * L;
      if (!pointwise) im2col_image(g, Cg, xg, cols, L);
      // The bias (one per output channel = row of y_g) and the ReLU ride in the GEMM's epilogue.
      gemm_ex<T>(false, false, Kg, L, crs, T(1), w + gr * Kg * crs, crs, pointwise ? xg : cols, L, T(0), yg, L,
                 bias ? bias + gr * Kg : nullptr, nullptr, relu);
    }
  });
}

template <typename T>
void backward_input_gemm(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  const index_t crs = Cg * g.R * g.S;
  const bool pointwise = is_pointwise(g);
  const bool par = batch_parallel(g);
  parallel_for(g.N, par ? get_num_threads() : 1, [&](index_t n) {
    T* cols = pointwise ? nullptr : workspace<T>(1, crs * L);
    if (!pointwise && !cols) return;
    for (index_t gr = 0; gr < g.G; ++gr) {
      const T* gyg = gy + (n * g.K + gr * Kg) * L;
      T* gxg = gx + (n * g.C + gr * Cg) * HW;
      // gcols (CgRS × L) = w_gᵀ · gy_g
      gemm<T>(true, false, crs, L, Kg, T(1), w + gr * Kg * crs, crs, gyg, L, T(0), pointwise ? gxg : cols, L);
      if (!pointwise) col2im_image(g, Cg, cols, L, gxg);
    }
  });
}

template <typename T>
void backward_weight_gemm(const ConvGeom& g, const T* gy, const T* x, T* gw) {
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  const index_t crs = Cg * g.R * g.S, rows = g.C * g.R * g.S;
  index_t chunk = kColumnBudget / (rows * L > 0 ? rows * L : 1);
  if (chunk < 1) chunk = 1;
  if (chunk > g.N) chunk = g.N;
  T* cols = workspace<T>(2, rows * chunk * L);
  T* gyt = chunk > 1 ? workspace<T>(3, g.K * chunk * L) : nullptr;
  if (!cols || (chunk > 1 && !gyt)) return;
  for (index_t n0 = 0; n0 < g.N; n0 += chunk) {
    const index_t nb = g.N - n0 < chunk ? g.N - n0 : chunk;
    const index_t ld = nb * L;
    // Lay the chunk's columns (rows × nb·L) and grad_y (K × nb·L) side by side.
    parallel_for(nb, nb > 1 ? get_num_threads() : 1, [&](index_t i) {
      im2col_image(g, g.C, x + (n0 + i) * g.C * HW, cols + i * L, ld);
      if (nb > 1)
        for (index_t k = 0; k < g.K; ++k)
          std::memcpy(gyt + k * ld + i * L, gy + ((n0 + i) * g.K + k) * L, sizeof(T) * static_cast<size_t>(L));
    });
    const T* a = nb > 1 ? gyt : gy + n0 * g.K * L;
    for (index_t gr = 0; gr < g.G; ++gr)
      gemm<T>(false, true, Kg, crs, ld, T(1), a + gr * Kg * ld, ld, cols + gr * crs * ld, ld,
              n0 == 0 ? T(0) : T(1), gw + gr * Kg * crs, crs);
  }
}

}  // namespace

template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* weight, const T* bias, T* y, bool relu) {
  if (g.N == 0) return;
  if (use_s1(g)) s1_forward(g, x, weight, bias, y, relu);
  else if (use_direct(g)) direct_forward(g, x, weight, bias, y, relu);
  else forward_gemm(g, x, weight, bias, y, relu);
}

template <typename T>
void conv2d_backward_input(const ConvGeom& g, const T* grad_y, const T* weight, T* grad_x) {
  if (g.N == 0) return;
  if (use_s1_backward_input(g) && all_finite(weight, g.K * (g.C / g.G) * g.R * g.S))
    s1_backward_input(g, grad_y, weight, grad_x);
  else if (use_direct(g)) direct_backward_input(g, grad_y, weight, grad_x);
  else backward_input_gemm(g, grad_y, weight, grad_x);
}

template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* grad_y, const T* x, T* grad_w) {
  if (g.N == 0) {
    std::memset(grad_w, 0, sizeof(T) * static_cast<size_t>(g.K * (g.C / g.G) * g.R * g.S));
    return;
  }
  if (use_s1(g)) {
    const index_t geo[13] = {g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.ph, g.pw, g.dh, g.dw, g.OH, g.OW};
    s1_backward_weight(geo, grad_y, x, grad_w);
  } else if (use_direct(g)) direct_backward_weight(g, grad_y, x, grad_w);
  else backward_weight_gemm(g, grad_y, x, grad_w);
}

template <typename T>
void conv2d_backward_bias(index_t N, index_t K, index_t L, const T* grad_y, T* grad_b) {
  constexpr int lanes = 16;  // independent partial sums, so the compiler can vectorise the reduction
  parallel_for(K, K * N * L > (index_t(1) << 22) ? get_num_threads() : 1, [&](index_t k) {
    T acc[lanes] = {};
    T tail = T(0);
    for (index_t n = 0; n < N; ++n) {
      const T* p = grad_y + (n * K + k) * L;
      index_t l = 0;
      for (; l + lanes <= L; l += lanes)
        for (int j = 0; j < lanes; ++j) acc[j] += p[l + j];
      for (; l < L; ++l) tail += p[l];
    }
    T sum = tail;
    for (int j = 0; j < lanes; ++j) sum += acc[j];
    grad_b[k] = sum;
  });
}

#define PE_INSTANTIATE(T)                                                                          \
  template void conv2d_forward<T>(const ConvGeom&, const T*, const T*, const T*, T*, bool);        \
  template void conv2d_backward_input<T>(const ConvGeom&, const T*, const T*, T*);                 \
  template void conv2d_backward_weight<T>(const ConvGeom&, const T*, const T*, T*);                \
  template void conv2d_backward_bias<T>(index_t, index_t, index_t, const T*, T*);
PE_INSTANTIATE(float)
PE_INSTANTIATE(double)
#undef PE_INSTANTIATE

}  // namespace pyengine::cpu
