// conv_winograd_isa.cpp — Winograd F(m×m, 3×3) convolution (m = 2 or 4) for 3×3, stride-1,
// dilation-1, groups-1 float32 layers, compiled per ISA (the equations: pyengine/conv2d.h).
//
// Why: on the many-channel layers the direct kernels and im2col + GEMM already run near the FMA
// peak, so only fewer multiplications are faster. An output tile of m×m needs α² = (m+2)²
// products per (k, c) instead of 9·m²: 2.25× fewer for F(2,3), 4× fewer for F(4,3).
//
// Per chunk of tiles (whole tile rows of one or more images, about kTargetTiles tiles; the chunks
// go to threads):
//  1. the input rows the chunk reads are copied into a channel-blocked, zero-padded layout
//     xb[c / VL][h][w][c mod VL] (the padding and the partial tiles at the right and bottom edges
//     read zeros), checking on the way that every value is finite and not huge;
//  2. input transform, VL channels per vector: V[ξ][t][c] = (Bᵀ d B)[ξ] of tile t's α×α patch d;
//  3. α² GEMMs Mo[ξ] (tiles × Kp) = V[ξ] (tiles × Cp) · U[ξ] (Cp × Kp) on the packed GEMM's
//     micro-kernel (gemm_kernel.h): V is read in place (MR tile rows at a time), U was packed once
//     into its NR-wide panels by the filter transform, so neither is repacked per chunk;
//  4. output transform, VL output channels per vector: y tile = Aᵀ Mo A (+ bias, ReLU), stored
//     into y (N, K, OH, OW), the pixels past OH / OW dropped.
// The filter transform U[ξ][c][k] = (G g Gᵀ)[ξ] runs once per call, VL output channels per vector.
// Cp, Kp: C rounded up to VL, K to NR (the padding channels are zeros in xb and U).
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "gemm_kernel.h"
#include "isa.h"
#include "pyengine/conv2d.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

using vf = vec_t<float>;
constexpr int VL = lanes<float>;
constexpr int MR = Blocking<float>::MR, NR = Blocking<float>::NR;

// Inputs beyond this magnitude (or not finite) go to the direct kernels: the transforms add up to
// ~100× their inputs, and an inf would turn into NaN where the direct sum keeps it.
constexpr float kMaxInput = 1e15f;

// Tiles per chunk: V and Mo of one chunk (α²·tiles·(Cp + Kp) floats) stay in L2/L3 between steps.
constexpr index_t kTargetTiles = 96;
constexpr index_t kKC = 512;

inline index_t round_up(index_t v, index_t to) { return (v + to - 1) / to * to; }

// ---- the 1-D transforms, applied to rows and then to columns (T: a vector or a scalar) -------
// F(2,3): points 0, 1, −1, ∞.
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//   G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]
// F(4,3): points 0, 1, −1, 2, −2, ∞.
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
template <int M> struct Wino;

template <> struct Wino<2> {
  static constexpr int A = 4;
  template <typename T>
  static void in(const T* d, T* t, int s) {    // t = Bᵀ d, elements s apart
    t[0] = d[0] - d[2 * s];
    t[s] = d[s] + d[2 * s];
    t[2 * s] = d[2 * s] - d[s];
    t[3 * s] = d[s] - d[3 * s];
  }
  template <typename T>
  static void out(const T* m, T* y, int s) {   // y = Aᵀ m
    y[0] = m[0] + m[s] + m[2 * s];
    y[s] = m[s] - m[2 * s] - m[3 * s];
  }
  template <typename T>
  static void filt(const T* g, T* u, int s) {  // u = G g
    u[0] = g[0];
    u[s] = float(0.5) * (g[0] + g[s] + g[2 * s]);
    u[2 * s] = float(0.5) * (g[0] - g[s] + g[2 * s]);
    u[3 * s] = g[2 * s];
  }
};

template <> struct Wino<4> {
  static constexpr int A = 6;
  template <typename T>
  static void in(const T* d, T* t, int s) {
    const T d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    const T a = d4 - float(4) * d2, b = d3 - float(4) * d1, c = d4 - d2, e = float(2) * (d3 - d1);
    t[0] = float(4) * d0 - float(5) * d2 + d4;
    t[s] = a + b;
    t[2 * s] = a - b;
    t[3 * s] = c + e;
    t[4 * s] = c - e;
    t[5 * s] = float(4) * d1 - float(5) * d3 + d5;
  }
  template <typename T>
  static void out(const T* m, T* y, int s) {
    const T s12 = m[s] + m[2 * s], d12 = m[s] - m[2 * s], s34 = m[3 * s] + m[4 * s], d34 = m[3 * s] - m[4 * s];
    y[0] = m[0] + s12 + s34;
    y[s] = d12 + float(2) * d34;
    y[2 * s] = s12 + float(4) * s34;
    y[3 * s] = d12 + float(8) * d34 + m[5 * s];
  }
  template <typename T>
  static void filt(const T* g, T* u, int s) {
    const T g0 = g[0], g1 = g[s], g2 = g[2 * s];
    u[0] = float(0.25) * g0;
    u[s] = float(-1.0 / 6) * (g0 + g1 + g2);
    u[2 * s] = float(-1.0 / 6) * (g0 - g1 + g2);
    u[3 * s] = float(1.0 / 24) * g0 + float(1.0 / 12) * g1 + float(1.0 / 6) * g2;
    u[4 * s] = float(1.0 / 24) * g0 - float(1.0 / 12) * g1 + float(1.0 / 6) * g2;
    u[5 * s] = g2;
  }
};

// U[ξ][p][c][j] = (G g Gᵀ)[ξ] of weight[k = p·NR + j, c] (zero for c ≥ C or k ≥ K): the B panels
// of the GEMM, VL output channels per vector (the 9 taps gathered lane by lane). A block of VL
// output channels at a time, c inner: the VL weight rows are then read as VL sequential streams
// (c outer read the whole weight tensor once per c, a page per k: 3.8 ms of a 12 ms 512 -> 512 call).
// flipped: w is the (C, K, 3, 3) weight of the convolution whose backward input this one is, used
// as weight[k, c, r, s] = w[c, k, 2 − r, 2 − s] (no flipped copy is made).
template <int M>
void filter_transform(const ConvGeom& g, const float* w, bool flipped, index_t Cp, index_t Kp, float* U) {
  constexpr int A = Wino<M>::A;
  const index_t plane = Cp * Kp;  // one ξ
  parallel_for(Kp / VL, threads_for_items(Kp / VL), [&](index_t kb) {
    const index_t k0 = kb * VL, nk = g.K - k0 < VL ? (g.K - k0 > 0 ? g.K - k0 : 0) : VL;
    for (index_t c = 0; c < Cp; ++c) {
      alignas(64) float buf[9 * VL] = {};
      if (c < g.C)
        for (index_t j = 0; j < nk; ++j)
          for (int i = 0; i < 9; ++i)
            buf[i * VL + j] = flipped ? w[(c * g.K + k0 + j) * 9 + 8 - i] : w[((k0 + j) * g.C + c) * 9 + i];
      vf tap[9], gg[A * 3], u[A * A];
      for (int i = 0; i < 9; ++i) tap[i] = load<float>(buf + i * VL);
      for (int s = 0; s < 3; ++s) Wino<M>::filt(tap + s, gg + s, 3);     // columns: gg = G g (A×3)
      for (int r = 0; r < A; ++r) Wino<M>::filt(gg + 3 * r, u + A * r, 1);  // rows: u = gg Gᵀ (A×A)
      float* dst = U + (k0 / NR) * Cp * NR + c * NR + k0 % NR;
      for (int x = 0; x < A * A; ++x) store<float>(dst + x * plane, u[x]);
    }
  });
}

struct Tiling {
  index_t TH, TW;        // tiles per image in each direction
  index_t Cp, Kp;
  index_t rows_per_chunk, chunks, Tbp;  // tile rows per chunk, their count, tiles per chunk (rounded to MR)
  index_t xb_rows, Wt;   // the blocked input of one chunk: rows, padded width
  index_t kc;            // the GEMM's reduction block (channels)
};

template <int M>
Tiling plan(const ConvGeom& g) {
  Tiling t{};
  t.TH = (g.OH + M - 1) / M;
  t.TW = (g.OW + M - 1) / M;
  t.Cp = round_up(g.C, VL);
  t.Kp = round_up(g.K, NR);
  static const index_t knob = [] { const char* v = std::getenv("PYENGINE_WINOGRAD_TILES"); return v ? std::atoll(v) : 0; }();
  const index_t target = knob > 0 ? knob : kTargetTiles;
  t.rows_per_chunk = target / t.TW < 1 ? 1 : target / t.TW;
  if (t.rows_per_chunk > t.TH * g.N) t.rows_per_chunk = t.TH * g.N;
  t.chunks = (g.N * t.TH + t.rows_per_chunk - 1) / t.rows_per_chunk;
  // Keep both threads busy: split into more chunks when there are fewer than threads.
  const int threads = get_num_threads();
  if (t.chunks < threads && t.rows_per_chunk > 1) {
    t.rows_per_chunk = (g.N * t.TH + threads - 1) / threads;
    t.chunks = (g.N * t.TH + t.rows_per_chunk - 1) / t.rows_per_chunk;
  }
  t.Tbp = round_up(t.rows_per_chunk * t.TW, MR);
  // The GEMM's reduction in blocks of at most kKC channels (the packed GEMM's KC). Smaller blocks,
  // meant to keep U[ξ]'s block in L2, were slower (128 or 64 channels on the 512 -> 512 layer).
  static const index_t kc_knob = [] { const char* v = std::getenv("PYENGINE_WINOGRAD_KC"); return v ? std::atoll(v) : 0; }();
  const index_t kc_target = kc_knob > 0 ? kc_knob : kKC;
  const index_t kblocks = (t.Cp + kc_target - 1) / kc_target;
  t.kc = round_up((t.Cp + kblocks - 1) / kblocks, VL);
  const index_t seg_rows = t.rows_per_chunk < t.TH ? t.rows_per_chunk : t.TH;
  t.xb_rows = seg_rows * M + 2;
  t.Wt = t.TW * M + 2;
  return t;
}

// Copies rows [h0, h0 + rows) × columns [−pw, Wt − pw) of image x (C, H, W) into
// xb[c / VL][row][col][c mod VL], zero outside the image and for c ≥ C. False when a value is not
// finite or beyond kMaxInput. One output row of VL channels at a time, written in order (VL input
// rows read side by side): a channel-outer order wrote each cache line VL times, from L2.
bool block_input(const ConvGeom& g, const Tiling& t, const float* x, index_t h0, index_t rows, float* xb) {
  const index_t cols = t.Wt;
  const index_t lo = g.pw < cols ? g.pw : cols, hi = g.pw + g.W < cols ? g.pw + g.W : cols;
  vf mx = vf{}, nonfinite = vf{};  // v·0 is NaN exactly when v is inf or NaN
  for (index_t cb = 0; cb < t.Cp / VL; ++cb)
    for (index_t r = 0; r < rows; ++r) {
      const index_t h = h0 + r;
      float* dst = xb + (cb * rows + r) * cols * VL;
      if (h < 0 || h >= g.H) {
        std::memset(dst, 0, sizeof(float) * static_cast<size_t>(cols * VL));
        continue;
      }
      std::memset(dst, 0, sizeof(float) * static_cast<size_t>(lo * VL));
      std::memset(dst + hi * VL, 0, sizeof(float) * static_cast<size_t>((cols - hi) * VL));
      const float* src[VL];
      const index_t nc = g.C - cb * VL < VL ? g.C - cb * VL : VL;
      for (index_t j = 0; j < nc; ++j) src[j] = x + ((cb * VL + j) * g.H + h) * g.W - g.pw;
      if (nc == VL) {
        for (index_t w = lo; w < hi; ++w)
          for (int j = 0; j < VL; ++j) dst[w * VL + j] = src[j][w];
      } else {
        for (index_t w = lo; w < hi; ++w)
          for (int j = 0; j < VL; ++j) dst[w * VL + j] = j < nc ? src[j][w] : 0.0f;
      }
      for (index_t w = lo; w < hi; ++w) {
        const vf v = load<float>(dst + w * VL);
        const vf a = vabs<float>(v);
        mx = a > mx ? a : mx;
        nonfinite += v * 0.0f;
      }
    }
  for (int j = 0; j < VL; ++j)
    if (!(mx[j] <= kMaxInput) || nonfinite[j] != 0.0f) return false;
  return true;
}

// V[ξ][t][c] for the tiles (ty0..ty1) × (0..TW) of one image segment, tile index t from t0.
template <int M>
void input_transform(const Tiling& t, const float* xb, index_t rows, index_t ty_count, float* V, index_t t0) {
  constexpr int A = Wino<M>::A;
  const index_t plane = t.Tbp * t.Cp;
  const index_t cols = t.Wt;
  for (index_t ty = 0; ty < ty_count; ++ty)
    for (index_t tx = 0; tx < t.TW; ++tx) {
      const index_t tile = t0 + ty * t.TW + tx;
      for (index_t cb = 0; cb < t.Cp / VL; ++cb) {
        const float* src = xb + ((cb * rows + ty * M) * cols + tx * M) * VL;
        vf d[A * A], e[A * A];
        for (int i = 0; i < A; ++i)
          for (int j = 0; j < A; ++j) d[i * A + j] = load<float>(src + (i * cols + j) * VL);
        for (int j = 0; j < A; ++j) Wino<M>::in(d + j, e + j, A);          // columns: e = Bᵀ d
        for (int i = 0; i < A; ++i) Wino<M>::in(e + A * i, d + A * i, 1);  // rows: d = e B
        float* dst = V + tile * t.Cp + cb * VL;
        for (int x = 0; x < A * A; ++x) store<float>(dst + x * plane, d[x]);
      }
    }
}

// y tiles of one image segment from Mo[ξ][t][k]: Aᵀ Mo A + bias, ReLU, the pixels inside OH × OW.
template <int M>
void output_transform(const ConvGeom& g, const Tiling& t, const float* Mo, index_t t0, index_t ty0, index_t ty_count,
                      const float* bias, bool relu, float* y) {
  constexpr int A = Wino<M>::A;
  const index_t plane = t.Tbp * t.Kp;
  const index_t L = g.OH * g.OW;
  for (index_t ty = 0; ty < ty_count; ++ty)
    for (index_t tx = 0; tx < t.TW; ++tx) {
      const index_t tile = t0 + ty * t.TW + tx;
      const index_t oh0 = (ty0 + ty) * M, ow0 = tx * M;
      const index_t nh = g.OH - oh0 < M ? g.OH - oh0 : M, nw = g.OW - ow0 < M ? g.OW - ow0 : M;
      for (index_t k0 = 0; k0 < g.K; k0 += VL) {
        const index_t nk = g.K - k0 < VL ? g.K - k0 : VL;
        const float* src = Mo + tile * t.Kp + k0;
        vf m[A * A], e[M * A], o[M * M];
        for (int x = 0; x < A * A; ++x) m[x] = load<float>(src + x * plane);
        for (int j = 0; j < A; ++j) Wino<M>::out(m + j, e + j, A);          // columns: e = Aᵀ m (M×A)
        for (int i = 0; i < M; ++i) Wino<M>::out(e + A * i, o + M * i, 1);  // rows: o = e A (M×M)
        const vf b = bias ? load_part<float>(bias + k0, nk, 0.0f) : vf{};
        for (int x = 0; x < M * M; ++x) {
          o[x] += b;
          if (relu) o[x] = o[x] < vf{} ? vf{} : o[x];  // NaN stays NaN
        }
        float* dst = y + k0 * L + oh0 * g.OW + ow0;
        for (index_t j = 0; j < nk; ++j)
          for (index_t i = 0; i < nh; ++i)
            for (index_t jj = 0; jj < nw; ++jj) dst[j * L + i * g.OW + jj] = o[i * M + jj][j];
      }
    }
}

template <int M>
bool winograd(const ConvGeom& g, const float* x, const float* w, bool flipped, const float* bias, float* y, bool relu) {
  constexpr int A = Wino<M>::A;
  const Tiling t = plan<M>(g);
  Workspace ws;
  float* U = workspace_take<float>(ws, A * A * t.Cp * t.Kp);
  if (!U) return false;
  filter_transform<M>(g, w, flipped, t.Cp, t.Kp, U);
  const index_t total_rows = g.N * t.TH;
  int ok = 1;  // cleared (atomically) by a chunk that meets a bad input or runs out of memory
  parallel_for(t.chunks, threads_for_items(t.chunks), [&](index_t chunk) {
    Workspace cws;
    float* xb = workspace_take<float>(cws, t.Cp * t.xb_rows * t.Wt);
    float* V = workspace_take<float>(cws, A * A * t.Tbp * t.Cp);
    float* Mo = workspace_take<float>(cws, A * A * t.Tbp * t.Kp);
    if (!xb || !V || !Mo) { __atomic_store_n(&ok, 0, __ATOMIC_RELAXED); return; }
    const index_t r0 = chunk * t.rows_per_chunk;
    const index_t r1 = r0 + t.rows_per_chunk < total_rows ? r0 + t.rows_per_chunk : total_rows;
    // 1, 2: per image segment of the chunk's tile rows
    for (index_t r = r0; r < r1;) {
      const index_t n = r / t.TH, ty0 = r % t.TH;
      const index_t ty1 = (n + 1) * t.TH < r1 ? t.TH : r1 - n * t.TH;
      const index_t rows = (ty1 - ty0) * M + 2;
      if (!block_input(g, t, x + n * g.C * g.H * g.W, ty0 * M - g.ph, rows, xb)) { __atomic_store_n(&ok, 0, __ATOMIC_RELAXED); return; }
      input_transform<M>(t, xb, rows, ty1 - ty0, V, (r - r0) * t.TW);
      r += ty1 - ty0;
    }
    // 3: Mo[ξ] = V[ξ] · U[ξ], MR tiles × NR output channels per micro-tile
    const index_t tiles = (r1 - r0) * t.TW;
    for (int xi = 0; xi < A * A; ++xi) {
      const float* Vx = V + xi * t.Tbp * t.Cp;
      const float* Ux = U + xi * t.Cp * t.Kp;
      float* Mx = Mo + xi * t.Tbp * t.Kp;
      for (index_t k0 = 0; k0 < t.Cp; k0 += t.kc) {
        const index_t kc = t.Cp - k0 < t.kc ? t.Cp - k0 : t.kc;
        for (index_t ir = 0; ir < tiles; ir += MR) {
          const int m = static_cast<int>(tiles - ir < MR ? tiles - ir : MR);
          for (index_t p = 0; p < t.Kp / NR; ++p)
            tile<float, false>(kc, Vx + ir * t.Cp + k0, t.Cp, Ux + (p * t.Cp + k0) * NR, Mx + ir * t.Kp + p * NR,
                               t.Kp, 1.0f, k0 == 0 ? 0.0f : 1.0f, m, NR, Epilogue<float>{}, true);
        }
      }
    }
    // 4: per image segment again
    for (index_t r = r0; r < r1;) {
      const index_t n = r / t.TH, ty0 = r % t.TH;
      const index_t ty1 = (n + 1) * t.TH < r1 ? t.TH : r1 - n * t.TH;
      output_transform<M>(g, t, Mo, (r - r0) * t.TW, ty0, ty1 - ty0, bias, relu, y + n * g.K * g.OH * g.OW);
      r += ty1 - ty0;
    }
  });
  return __atomic_load_n(&ok, __ATOMIC_RELAXED) != 0;
}

bool conv_winograd(const ConvGeom& g, int m, bool flipped, const float* x, const float* w, const float* bias, float* y,
                   bool relu) {
  for (index_t i = 0; i < g.K * g.C * 9; ++i)
    if (!(std::fabs(w[i]) <= kMaxInput)) return false;
  return m == 4 ? winograd<4>(g, x, w, flipped, bias, y, relu) : winograd<2>(g, x, w, flipped, bias, y, relu);
}

double conv_winograd_workspace(const ConvGeom& g, int m) {
  const Tiling t = m == 4 ? plan<4>(g) : plan<2>(g);
  const double a2 = (m + 2.0) * (m + 2.0);
  const double per_chunk = static_cast<double>(t.Cp) * t.xb_rows * t.Wt + a2 * t.Tbp * (t.Cp + t.Kp);
  return 4.0 * (a2 * t.Cp * t.Kp + threads_for_items(t.chunks) * per_chunk);
}

}  // namespace

PE_ISA_REGISTER(conv_winograd_f, conv_winograd)
PE_ISA_REGISTER(conv_winograd_workspace_f, conv_winograd_workspace)

}  // namespace pyengine::cpu::PYENGINE_ISA
