// conv2d.cpp — 2-D convolution forward and backward (see pyengine/conv2d.h for the contract).
//
// Picks the algorithm per shape (see the header): Winograd for the float32 3×3 stride-1 layers of >= 64
// channels (csrc/cpu/isa/conv_winograd_isa.cpp, forward and backward input); for groups 1 with >= 64 input channels and <= 16×16
// outputs (CIFAR ResNet's 128-512-channel layers), one GEMM over a chunk of images (the batched
// route below); else the register-blocked kernels of
// csrc/cpu/isa/conv_s1_isa.cpp for groups 1 (backward input: stride 1 only); else the direct row kernels of
// csrc/cpu/isa/conv_isa.cpp when the reduction per output (Cg·R·S) is small; else im2col +
// pyengine::cpu::gemm:
//  forward          per image and group:  y_g (Kg × L) = w_g (Kg × CgRS) · cols_g, + bias and ReLU in
//                   the GEMM epilogue (gemm_ex)
//  backward_input   per image and group:  gcols = w_gᵀ · gy_g, then col2im into grad_x
//  backward_weight  per chunk of images:  grad_w_g += gy_g (Kg × B·L) · cols_g (CgRS × B·L)ᵀ, the
//                   chunk's columns and grad_y laid side by side so one GEMM covers the chunk
//                   (the whole batch when it fits in the workspace budget).
// Images go to threads when there are at least as many as threads (the GEMMs inside then run on
// one thread); otherwise the GEMM parallelises. Workspaces come from the calling thread's arena.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "pyengine/conv2d.h"
#include "pyengine/gemm.h"
#include "pyengine/workspace.h"
#include "pyengine/parallel.h"

namespace pyengine::cpu {

namespace {

// The per-ISA kernels by element type (their declarations: pyengine/conv2d.h).
void s1_conv(const ConvGeom& g, const float* in, const float* wp, const float* b, float* out, bool relu) {
  conv_s1_f(g, in, wp, b, out, relu);
}
void s1_conv(const ConvGeom& g, const double* in, const double* wp, const double* b, double* out, bool relu) {
  conv_s1_d(g, in, wp, b, out, relu);
}
void s1_backward_weight(const ConvGeom& g, const float* gy, const float* x, float* gw) { conv_s1_bw_f(g, gy, x, gw); }
void s1_backward_weight(const ConvGeom& g, const double* gy, const double* x, double* gw) {
  conv_s1_bw_d(g, gy, x, gw);
}

void direct_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  conv_direct_forward_f(g, x, w, b, y, relu);
}
void direct_forward(const ConvGeom& g, const double* x, const double* w, const double* b, double* y, bool relu) {
  conv_direct_forward_d(g, x, w, b, y, relu);
}
void direct_backward_input(const ConvGeom& g, const float* gy, const float* w, float* gx) {
  conv_direct_backward_input_f(g, gy, w, gx);
}
void direct_backward_input(const ConvGeom& g, const double* gy, const double* w, double* gx) {
  conv_direct_backward_input_d(g, gy, w, gx);
}
void direct_backward_weight(const ConvGeom& g, const float* gy, const float* x, float* gw) {
  conv_direct_backward_weight_f(g, gy, x, gw);
}
void direct_backward_weight(const ConvGeom& g, const double* gy, const double* x, double* gw) {
  conv_direct_backward_weight_d(g, gy, x, gw);
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

// The register-blocked kernels (csrc/cpu/isa/conv_s1_isa.cpp) cover groups 1, forward and
// backward weight at any stride (a strided image is laid out split into its stride phases).
bool use_s1(const ConvGeom& g) { return g.G == 1; }
bool unit_stride(const ConvGeom& g) { return g.sh == 1 && g.sw == 1; }

// Strided, they win where the image has few channels (the 3→32 stride-2 stem, 16→32 and 32→64
// layers, ConvTranspose2d's gradients: 1.1–12× faster) and lose to im2col + GEMM from 64 input
// channels on (ResNet's downsampling 3×3 and 1×1 layers: 1.2–1.9× slower at batch 32).
bool use_s1_forward(const ConvGeom& g) { return use_s1(g) && (unit_stride(g) || g.C <= 32); }

// Strided backward weight wins down to 8×8 outputs and loses on a 4×4 one (256→512 at 8×8 input).
bool use_s1_backward_weight(const ConvGeom& g) { return use_s1(g) && (unit_stride(g) || g.OH * g.OW >= 64); }

// Backward input runs the forward kernel on grad_output padded by dilation·(kernel − 1) − padding,
// which must not be negative; stride 1 only (a strided one would convolve a dilated grad_output).
bool use_s1_backward_input(const ConvGeom& g) {
  return use_s1(g) && unit_stride(g) && g.ph <= g.dh * (g.R - 1) && g.pw <= g.dw * (g.S - 1);
}

// Winograd F(m×m, 3×3) (pyengine/conv2d.h) for the float32 3×3 stride-1 groups-1 layers: the tile
// m (2 or 4) by shape, 0 where it does not pay (measured: bench/NOTES.md, "Winograd"). For
// benchmarks and tests PYENGINE_CONV_WINOGRAD=0 turns it off, =2 or =4 forces that tile on every
// shape it can run (read per call).
int winograd_tile(const ConvGeom& g) {
  if (g.R != 3 || g.S != 3 || !unit_stride(g) || g.dh != 1 || g.dw != 1 || g.G != 1) return 0;
  const char* env = std::getenv("PYENGINE_CONV_WINOGRAD");
  if (env && (env[0] == '0' || env[0] == '2' || env[0] == '4')) return env[0] - '0';
  if (g.C < 64 || g.K < 64 || g.OH * g.OW < 16) return 0;
  // F(4,3)'s error grows with the reduction length C: on unit-variance weights it passes the
  // float32 parity tolerance (atol 1e-3, rtol 1e-4) up to about 100 channels and fails it from 128
  // on, where F(2,3) (more accurate than the direct kernels) stays well inside.
  return g.C <= 96 && g.OH >= 8 && g.OW >= 8 ? 4 : 2;
}

// True when the Winograd kernel ran (it declines non-finite or huge inputs: then y is to be written
// by another algorithm).
// flipped: w is the weight of the convolution whose backward input g is (see s1_backward_input).
template <typename T>
bool winograd_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu, bool flipped = false) {
  if constexpr (std::is_same_v<T, float>) {
    const int m = winograd_tile(g);
    return m != 0 && conv_winograd_f(g, m, flipped, x, w, bias, y, relu);
  }
  return false;
}

template <typename T>
void s1_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
  s1_conv(g, x, w, bias, y, relu);
}

// grad_x = conv(grad_y padded by (dh·(R−1) − ph, dw·(S−1) − pw), weights flipped in (r, s) and
// transposed to (C × K·R·S)).
// the transposed convolution: grad_output (N, K, OH, OW) in, grad_x (N, C, H, W) out
inline ConvGeom transposed(const ConvGeom& g) {
  ConvGeom t = g;
  t.C = g.K; t.H = g.OH; t.W = g.OW;
  t.K = g.C; t.OH = g.H; t.OW = g.W;
  t.ph = g.dh * (g.R - 1) - g.ph;
  t.pw = g.dw * (g.S - 1) - g.pw;
  return t;
}

// Winograd on the transposed convolution, reading w flipped and transposed in its filter
// transform (no copy). True when it ran.
template <typename T>
bool winograd_backward_input(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  return winograd_forward(transposed(g), gy, w, static_cast<const T*>(nullptr), gx, false, true);
}

template <typename T>
void s1_backward_input(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const ConvGeom t = transposed(g);
  const index_t J = g.K * g.R * g.S, RS = g.R * g.S;
  Workspace ws;
  T* flipped = workspace_take<T>(ws, g.C * J);
  if (!flipped) return;
  for (index_t c = 0; c < g.C; ++c)
    for (index_t k = 0; k < g.K; ++k)
      for (index_t rs = 0; rs < RS; ++rs) flipped[c * J + k * RS + rs] = w[(k * g.C + c) * RS + (RS - 1 - rs)];
  s1_conv(t, gy, flipped, static_cast<const T*>(nullptr), gx, false);
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
    Workspace ws;
    T* cols = pointwise ? nullptr : workspace_take<T>(ws, crs * L);
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
    Workspace ws;
    T* cols = pointwise ? nullptr : workspace_take<T>(ws, crs * L);
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

// ---- The batched route: one GEMM over a chunk of images (the many-channel, small-image layers)
//
// Per image, a 4×4 or 8×8 output gives a GEMM 16–64 columns wide that packs all of w (up to
// 512 × 4608) again for every image; the chunk's columns laid side by side (CRS × nb·L) make it
// 256–1024 wide. Chunks go to threads (each GEMM then runs on one thread, no barrier inside it);
// a batch smaller than the thread count is one chunk whose GEMM parallelises.
//  forward         ybuf (K × nb·L) = w · cols, bias and ReLU in the epilogue, then scattered to NCHW
//  backward_input  gcols (CRS × nb·L) = wᵀ · gyt, gyt the chunk's grad_y gathered to K × nb·L,
//                  then col2im per image (row pitch nb·L)

// Column-buffer elements one batched GEMM's chunk may use (measured, 1 thread, b32: 1 Mi floats
// against 0.3-4 Mi): the forward is fastest with its columns inside the 2 MiB L2 (256 Ki floats:
// one 16×16 image of 128 channels, four 4×4 images of 512), even when that leaves the GEMM only 64
// columns wide; the backward passes (wᵀ packed again per chunk in backward input) want at least
// 256 columns.
constexpr index_t kBatchedBudget = index_t(1) << 18;
constexpr index_t kBatchedMinColumns = 256;

// Groups 1, at least 64 channels in, at most 16×16 outputs, not pointwise: CIFAR ResNet's 128-,
// 256- and 512-channel 3×3 layers and its stride-2 downsampling 3×3 and 1×1 layers.
bool use_batched(const ConvGeom& g) { return g.G == 1 && g.C >= 64 && g.OH * g.OW <= 256 && !is_pointwise(g); }

// Backward weight: the register-blocked kernel stays ahead on the 8×8 and 16×16 outputs of a
// stride-1 3×3 layer (1.15× on 128→128 16×16, even on 256→256 8×8); the batched GEMM wins on 4×4
// outputs, on the strided 3×3 layers (1.1-1.25×) and on the strided 1×1 shortcuts (1.6-1.8×).
bool use_batched_backward_weight(const ConvGeom& g) {
  return use_batched(g) && (g.OH * g.OW <= 16 || !unit_stride(g) || (g.R == 1 && g.S == 1));
}

// Images per chunk: within the budget (at least min_cols wide), and as many chunks as a multiple
// of the thread count (so no thread gets one chunk more than another).
index_t batched_chunk(const ConvGeom& g, index_t rows, index_t min_cols) {
  const index_t L = g.OH * g.OW, t = get_num_threads();
  index_t nb = kBatchedBudget / (rows * L > 0 ? rows * L : 1);
  const index_t wide = (min_cols + L - 1) / L;
  if (nb < wide) nb = wide;
  if (nb < 1) nb = 1;
  // The GEMM's micro-tile is 32 columns wide: a chunk 16 columns past a multiple of 32 wastes half
  // a tile (512→512 4×4: 3 images = 48 columns). Round up to a whole tile when that adds few images.
  for (index_t up = nb; up <= 2 * nb && up <= g.N; ++up)
    if (up * L % 32 == 0) {
      nb = up;
      break;
    }
  if (nb > g.N) nb = g.N;
  if (t > 1 && g.N >= t) {
    index_t count = (g.N + nb - 1) / nb;
    count = (count + t - 1) / t * t;
    nb = (g.N + count - 1) / count;
  }
  return nb;
}

template <typename T>
void forward_batched(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
  const index_t L = g.OH * g.OW, HW = g.H * g.W, crs = g.C * g.R * g.S;
  const index_t nb = batched_chunk(g, crs, 1), chunks = (g.N + nb - 1) / nb;
  parallel_for(chunks, get_num_threads(), [&](index_t c) {
    const index_t n0 = c * nb, m = g.N - n0 < nb ? g.N - n0 : nb, ld = m * L;
    Workspace ws;
    T* cols = workspace_take<T>(ws, crs * ld);
    T* ybuf = m > 1 ? workspace_take<T>(ws, g.K * ld) : y + n0 * g.K * L;
    if (!cols || !ybuf) return;
    for (index_t i = 0; i < m; ++i) im2col_image(g, g.C, x + (n0 + i) * g.C * HW, cols + i * L, ld);
    gemm_ex<T>(false, false, g.K, ld, crs, T(1), w, crs, cols, ld, T(0), ybuf, ld, bias, nullptr, relu);
    if (m > 1)
      for (index_t i = 0; i < m; ++i)
        for (index_t k = 0; k < g.K; ++k)
          std::memcpy(y + ((n0 + i) * g.K + k) * L, ybuf + k * ld + i * L, sizeof(T) * static_cast<size_t>(L));
  });
}

template <typename T>
void backward_input_batched(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const index_t L = g.OH * g.OW, HW = g.H * g.W, crs = g.C * g.R * g.S;
  const index_t nb = batched_chunk(g, crs, kBatchedMinColumns), chunks = (g.N + nb - 1) / nb;
  parallel_for(chunks, get_num_threads(), [&](index_t c) {
    const index_t n0 = c * nb, m = g.N - n0 < nb ? g.N - n0 : nb, ld = m * L;
    Workspace ws;
    T* gcols = workspace_take<T>(ws, crs * ld);
    T* gyt = m > 1 ? workspace_take<T>(ws, g.K * ld) : nullptr;
    if (!gcols || (m > 1 && !gyt)) return;
    if (m > 1)
      for (index_t i = 0; i < m; ++i)
        for (index_t k = 0; k < g.K; ++k)
          std::memcpy(gyt + k * ld + i * L, gy + ((n0 + i) * g.K + k) * L, sizeof(T) * static_cast<size_t>(L));
    gemm<T>(true, false, crs, ld, g.K, T(1), w, crs, m > 1 ? gyt : gy + n0 * g.K * L, ld, T(0), gcols, ld);
    for (index_t i = 0; i < m; ++i) col2im_image(g, g.C, gcols + i * L, ld, gx + (n0 + i) * g.C * HW);
  });
}

// grad_w (K × CRS) = Σ over chunks gyt (K × nb·L) · colsᵀ (nb·L × CRS). The batch is cut into one
// fixed block of images per thread, each summed into its own partial (block 0 straight into
// grad_w) chunk by chunk, the partials then added in block order.
template <typename T>
void backward_weight_batched(const ConvGeom& g, const T* gy, const T* x, T* gw) {
  const index_t L = g.OH * g.OW, HW = g.H * g.W, crs = g.C * g.R * g.S, kw = g.K * crs;
  const int t = get_num_threads();
  const index_t blocks = t > 1 && g.N >= t ? t : 1;
  Workspace outer;
  T* partials = blocks > 1 ? workspace_take<T>(outer, (blocks - 1) * kw) : nullptr;
  if (blocks > 1 && !partials) return;
  const index_t nb_max = batched_chunk(g, crs, kBatchedMinColumns);
  parallel_for_blocks(g.N, blocks, t, [&](index_t lo, index_t hi, index_t b) {
    T* acc = b == 0 ? gw : partials + (b - 1) * kw;
    if (hi <= lo) {
      std::memset(acc, 0, sizeof(T) * static_cast<size_t>(kw));
      return;
    }
    Workspace ws;
    T* cols = workspace_take<T>(ws, crs * nb_max * L);
    T* gyt = nb_max > 1 ? workspace_take<T>(ws, g.K * nb_max * L) : nullptr;
    if (!cols || (nb_max > 1 && !gyt)) return;
    for (index_t n0 = lo; n0 < hi; n0 += nb_max) {
      const index_t m = hi - n0 < nb_max ? hi - n0 : nb_max, ld = m * L;
      for (index_t i = 0; i < m; ++i) {
        im2col_image(g, g.C, x + (n0 + i) * g.C * HW, cols + i * L, ld);
        if (m > 1)
          for (index_t k = 0; k < g.K; ++k)
            std::memcpy(gyt + k * ld + i * L, gy + ((n0 + i) * g.K + k) * L, sizeof(T) * static_cast<size_t>(L));
      }
      gemm<T>(false, true, g.K, crs, ld, T(1), m > 1 ? gyt : gy + n0 * g.K * L, ld, cols, ld, n0 == lo ? T(0) : T(1),
              acc, crs);
    }
  });
  for (index_t b = 1; b < blocks; ++b) {
    const T* p = partials + (b - 1) * kw;
    for (index_t i = 0; i < kw; ++i) gw[i] += p[i];
  }
}

template <typename T>
void backward_weight_gemm(const ConvGeom& g, const T* gy, const T* x, T* gw) {
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, L = g.OH * g.OW, HW = g.H * g.W;
  const index_t crs = Cg * g.R * g.S, rows = g.C * g.R * g.S;
  index_t chunk = kColumnBudget / (rows * L > 0 ? rows * L : 1);
  if (chunk < 1) chunk = 1;
  if (chunk > g.N) chunk = g.N;
  Workspace ws;
  T* cols = workspace_take<T>(ws, rows * chunk * L);
  T* gyt = chunk > 1 ? workspace_take<T>(ws, g.K * chunk * L) : nullptr;
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

namespace {
double workspace_bytes(const ConvGeom& g, index_t elem_size, Conv2dPass pass) {
  // In doubles: the estimate of an absurd request must not overflow.
  const double t = get_num_threads(), e = static_cast<double>(elem_size);
  const double C = g.C, K = g.K, Cg = static_cast<double>(g.C / g.G), RS = static_cast<double>(g.R) * g.S;
  const double L = static_cast<double>(g.OH) * g.OW;
  const double padded = C * (static_cast<double>(g.H) + 2.0 * g.ph + 1) * (static_cast<double>(g.W) + 2.0 * g.pw + 1);
  const double crs = Cg * RS;
  // the kernels' padded image (split into sh·sw stride phases when strided, each rounded up to
  // whole rows and columns) and the outputs on its row pitch
  const double Wq = (static_cast<double>(g.W) + 2.0 * g.pw) / g.sw + 1.0;
  const double phased = C * (static_cast<double>(g.H) + 2.0 * g.ph + g.sh) * (static_cast<double>(g.W) + 2.0 * g.pw + g.sw);
  const double s1_image = phased + (static_cast<double>(g.OH) + 1) * Wq + 64 + K * (static_cast<double>(g.OH) + 1) * (Wq + 16);
  switch (pass) {
    case Conv2dPass::forward:
      if (use_batched(g))
        return e * (t < g.N ? t : 1.0) * (C * RS + K) * static_cast<double>(batched_chunk(g, g.C * g.R * g.S, 1)) * L;
      if (use_s1_forward(g)) return e * (K * C * RS + t * s1_image);
      // direct: the padded image, and its column phases when strided (about as large again)
      if (use_direct(g)) return e * t * Cg * padded / C * (g.sw > 1 ? 2.0 + g.sw / (g.W + 1.0) : 1.0);
      return e * (K * (crs + 1) + (batch_parallel(g) ? t : 1.0) * (crs + 1) * L);
    case Conv2dPass::backward_input:
      if (use_batched(g))
        return e * (t < g.N ? t : 1.0) * (C * RS + K) *
               static_cast<double>(batched_chunk(g, g.C * g.R * g.S, kBatchedMinColumns)) * L;
      if (use_s1_backward_input(g))
        return e * (K * C * RS + t * (K * (static_cast<double>(g.OH) + 2.0 * g.R * g.dh) *
                                          (static_cast<double>(g.OW) + 2.0 * g.S * g.dw) + C * (g.H + 1.0) * (g.W + 16.0)));
      if (use_direct(g)) return e * t * Cg * padded / C;
      return e * (batch_parallel(g) ? t : 1.0) * crs * L;
    case Conv2dPass::backward_weight: {
      if (use_batched_backward_weight(g))
        return e * ((t < g.N ? t : 1.0) * (C * RS + K) *
                        static_cast<double>(batched_chunk(g, g.C * g.R * g.S, kBatchedMinColumns)) * L +
                    (t < g.N ? t - 1.0 : 0.0) * K * C * RS);
      if (use_s1_backward_weight(g)) return e * t * (C * RS * (K + 16) + phased + (g.OH + 1.0) * (Wq + 64.0) * (K + 16));
      if (use_direct(g)) return e * t * (K * crs + Cg * padded / C + g.OW);
      const double rows = C * RS;
      double chunk = static_cast<double>(kColumnBudget) / (rows * L > 0 ? rows * L : 1.0);
      chunk = chunk < 1 ? 1 : (chunk > g.N ? g.N : static_cast<double>(static_cast<index_t>(chunk)));
      return e * (rows + K) * chunk * L;
    }
  }
  return 0.0;
}
}  // namespace

double conv2d_workspace_bytes(const ConvGeom& g, index_t elem_size, Conv2dPass pass) {
  if (g.N == 0) return 0.0;
  const double other = workspace_bytes(g, elem_size, pass);
  // Winograd (float32 only) may decline after taking its workspace; the fallback then takes its own.
  if (elem_size != 4 || pass == Conv2dPass::backward_weight) return other;
  if (pass == Conv2dPass::forward) {
    const int m = winograd_tile(g);
    return m ? other + conv_winograd_workspace_f(g, m) : other;
  }
  if (!use_s1_backward_input(g)) return other;
  const ConvGeom t = transposed(g);
  const int m = winograd_tile(t);
  return m ? other + conv_winograd_workspace_f(t, m) : other;
}

template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* weight, const T* bias, T* y, bool relu) {
  if (g.N == 0 || winograd_forward(g, x, weight, bias, y, relu)) return;
  if (use_batched(g)) forward_batched(g, x, weight, bias, y, relu);
  else if (use_s1_forward(g)) s1_forward(g, x, weight, bias, y, relu);
  else if (use_direct(g)) direct_forward(g, x, weight, bias, y, relu);
  else forward_gemm(g, x, weight, bias, y, relu);
}

template <typename T>
void conv2d_backward_input(const ConvGeom& g, const T* grad_y, const T* weight, T* grad_x) {
  if (g.N == 0) return;
  const bool s1 = use_s1_backward_input(g) && all_finite(weight, g.K * (g.C / g.G) * g.R * g.S);
  if (s1 && winograd_backward_input(g, grad_y, weight, grad_x)) return;
  if (use_batched(g)) backward_input_batched(g, grad_y, weight, grad_x);
  else if (s1) s1_backward_input(g, grad_y, weight, grad_x);
  else if (use_direct(g)) direct_backward_input(g, grad_y, weight, grad_x);
  else backward_input_gemm(g, grad_y, weight, grad_x);
}

template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* grad_y, const T* x, T* grad_w) {
  if (g.N == 0) {
    std::memset(grad_w, 0, sizeof(T) * static_cast<size_t>(g.K * (g.C / g.G) * g.R * g.S));
    return;
  }
  if (use_batched_backward_weight(g)) {
    backward_weight_batched(g, grad_y, x, grad_w);
  } else if (use_s1_backward_weight(g)) {
    s1_backward_weight(g, grad_y, x, grad_w);
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
