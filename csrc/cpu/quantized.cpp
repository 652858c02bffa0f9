// quantized.cpp — int8 convolution and linear, uint8 max pooling and quantization (see
// pyengine/quantized.h): offsets, im2col in uint8, the split over threads, and the choice of the
// ISA copy of csrc/cpu/isa/quantized_isa.cpp.
//
// The copy: AVX-512 with VNNI when the active instruction set is avx512 and the CPU has VNNI; the
// AVX2 copy when the active set is avx512 (without VNNI) or avx2; generic otherwise.
#include <cstdlib>
#include <cstring>

#include "pyengine/quantized.h"
#include "pyengine/workspace.h"

namespace pyengine::cpu {

namespace {

// Runs f(0..n-1) on `threads` OpenMP threads, or inline without entering a parallel region (whose
// fork costs about a microsecond even when its if-clause is false) when one thread is asked for.
template <typename F>
inline void parallel_for(index_t n, int threads, F&& f) {
  if (threads > 1 && n > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t i = 0; i < n; ++i) f(i);
  } else {
    for (index_t i = 0; i < n; ++i) f(i);
  }
}

// The copy of quantized_isa.cpp to run: the AVX-512 one only with VNNI (vpdpbusd); an AVX-512
// machine without it takes the AVX2 copy.
bool cpu_has_vnni() {
#if defined(__x86_64__) || defined(_M_X64)
  return __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

Isa int8_isa() {
  const Isa isa = active_isa();
  if (isa == Isa::avx512 && cpu_has_vnni()) return Isa::avx512;
  if (isa == Isa::avx512 || isa == Isa::avx2) return Isa::avx2;
  return Isa::generic;
}

void conv_gemm(index_t M, index_t L, index_t J, const std::int8_t* w, const std::uint8_t* cols, index_t ld,
               const std::int32_t* rowsum, const Requant& rq, void* y, bool split) {
  quantized_conv_gemm.of(int8_isa())(M, L, J, w, cols, ld, rowsum, rq, y, split);
}

void linear_gemm(index_t N, index_t I, index_t O, const std::uint8_t* x, const std::int8_t* w,
                 const std::int32_t* rowsum, const Requant& rq, void* y) {
  quantized_linear_gemm.of(int8_isa())(N, I, O, x, w, rowsum, rq, y);
}

// cols (Cg·R·S, OH·OW) of one image's group: x (Cg, H, W) under each tap, pad outside the image.
void im2col_u8(const ConvGeom& g, index_t Cg, const std::uint8_t* x, std::uint8_t pad, std::uint8_t* cols) {
  const index_t L = g.OH * g.OW;
  for (index_t c = 0; c < Cg; ++c)
    for (index_t r = 0; r < g.R; ++r)
      for (index_t s = 0; s < g.S; ++s) {
        std::uint8_t* row = cols + ((c * g.R + r) * g.S + s) * L;
        // Output columns whose input column iw = ow·sw + s·dw − pw lies inside [0, W).
        const index_t shift = s * g.dw - g.pw;
        index_t ow0 = shift >= 0 ? 0 : (-shift + g.sw - 1) / g.sw;
        index_t ow1 = g.W - shift <= 0 ? 0 : (g.W - shift + g.sw - 1) / g.sw;
        if (ow1 > g.OW) ow1 = g.OW;
        if (ow0 > ow1) ow0 = ow1;
        for (index_t oh = 0; oh < g.OH; ++oh) {
          std::uint8_t* out = row + oh * g.OW;
          const index_t ih = oh * g.sh + r * g.dh - g.ph;
          if (ih < 0 || ih >= g.H) {
            std::memset(out, pad, static_cast<size_t>(g.OW));
            continue;
          }
          const std::uint8_t* in = x + (c * g.H + ih) * g.W;
          std::memset(out, pad, static_cast<size_t>(ow0));
          if (g.sw == 1) {
            if (ow1 > ow0) std::memcpy(out + ow0, in + ow0 + shift, static_cast<size_t>(ow1 - ow0));
          } else {
            for (index_t ow = ow0; ow < ow1; ++ow) out[ow] = in[ow * g.sw + shift];
          }
          std::memset(out + ow1, pad, static_cast<size_t>(g.OW - ow1));
        }
      }
}

// rowsum[k] = Σ_j w[k, j] and offset[k] = bias[k] − x_zero_point·rowsum[k] (both fit int32: J ≤ 2^15).
void offsets(index_t K, index_t J, const std::int8_t* w, const std::int32_t* bias, std::int32_t x_zero_point,
             std::int32_t* rowsum, std::int32_t* offset) {
  for (index_t k = 0; k < K; ++k) {
    std::int32_t s = 0;
    for (index_t j = 0; j < J; ++j) s += w[k * J + j];
    rowsum[k] = s;
    offset[k] = (bias ? bias[k] : 0) - x_zero_point * s;
  }
}

}  // namespace

void quantized_max_pool2d(const Pool2dShape& g, const std::uint8_t* x, std::uint8_t* y) {
  const index_t planes = g.N * g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW;
  const bool fast = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 &&
                    g.dw == 1 && 2 * OH <= H && 2 * OW <= W;
  const auto row2x2 = max_pool_2x2_row.of(int8_isa());
  const bool par = get_num_threads() > 1 && planes * OH * OW > (index_t(1) << 16);
  parallel_for(planes, par ? get_num_threads() : 1, [&](index_t p) {
    const std::uint8_t* xp = x + p * H * W;
    std::uint8_t* yp = y + p * OH * OW;
    if (fast) {   // the common 2×2/2 case, vectorised per ISA
      for (index_t oh = 0; oh < OH; ++oh) row2x2(OW, xp + 2 * oh * W, xp + (2 * oh + 1) * W, yp + oh * OW);
      return;
    }
    for (index_t oh = 0; oh < OH; ++oh)
      for (index_t ow = 0; ow < OW; ++ow) {
        std::uint8_t m = 0;
        for (index_t r = 0; r < g.kh; ++r) {
          const index_t ih = oh * g.sh - g.ph + r * g.dh;
          if (ih < 0 || ih >= H) continue;
          for (index_t s = 0; s < g.kw; ++s) {
            const index_t iw = ow * g.sw - g.pw + s * g.dw;
            if (iw >= 0 && iw < W && xp[ih * W + iw] > m) m = xp[ih * W + iw];
          }
        }
        yp[oh * OW + ow] = m;
      }
  });
}

void quantize_per_tensor(index_t n, const float* x, float scale, std::int32_t zero_point, std::uint8_t* y) {
  const int threads = get_num_threads() > 1 && n > (index_t(1) << 18) ? get_num_threads() : 1;
  const index_t chunk = (n + threads - 1) / threads;
  const auto quantize = quantize_f32.of(int8_isa());
  parallel_for(threads, threads, [&](index_t t) {
    const index_t b = t * chunk, e = b + chunk < n ? b + chunk : n;
    if (b < e) quantize(e - b, x + b, scale, zero_point, y + b);
  });
}

const char* quantized_kernel_name() {
  const Isa isa = int8_isa();
  if (!quantized_conv_gemm.copy[static_cast<int>(isa)]) return "generic";   // that copy was not built
  return isa == Isa::avx512 ? "avx512_vnni" : isa == Isa::avx2 ? "avx2" : "generic";
}

void quantized_conv2d(const ConvGeom& g, const std::uint8_t* x, std::int32_t x_zero_point, const std::int8_t* w,
                      const std::int32_t* bias, const float* multiplier, std::int32_t y_zero_point, std::int32_t qmin,
                      std::int32_t qmax, bool out_u8, void* y) {
  if (g.N == 0) return;
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, J = Cg * g.R * g.S, L = g.OH * g.OW, HW = g.H * g.W;
  const size_t esize = out_u8 ? 1 : sizeof(float);
  std::int32_t* sums = static_cast<std::int32_t*>(std::malloc(sizeof(std::int32_t) * 2 * static_cast<size_t>(g.K)));
  if (!sums) return;
  std::int32_t* rowsum = sums;
  std::int32_t* offset = sums + g.K;
  offsets(g.K, J, w, bias, x_zero_point, rowsum, offset);
  const bool pointwise = g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  // (image, group) items go to threads when there are enough; otherwise each GEMM splits its columns.
  const index_t items = g.N * g.G;
  const int threads = get_num_threads();
  const bool par_items = threads > 1 && items >= threads;
  const Isa isa = int8_isa();
  const std::uint8_t pad = static_cast<std::uint8_t>(x_zero_point);
  const Requant whole{offset, multiplier, y_zero_point, qmin, qmax, out_u8};
  // Depthwise (one input and one output channel per group): the VNNI row kernel when it applies;
  // stride 1, one group, a real kernel window: the shifted-image kernel. Both without im2col.
  if ((g.G == g.C && g.G == g.K && quantized_depthwise.of(isa)(g, x, pad, w, whole, y)) ||
      (g.G == 1 && g.sh == 1 && g.sw == 1 && !pointwise && quantized_conv_s1.of(isa)(g, x, pad, w, rowsum, whole, y))) {
    std::free(sums);
    return;
  }
  parallel_for(items, (par_items) ? threads : 1, [&](index_t it) {
    const index_t n = it / g.G, gr = it % g.G;
    Workspace ws;   // this image's columns
    const std::uint8_t* xg = x + (n * g.C + gr * Cg) * HW;
    const std::uint8_t* cols = xg;
    if (!pointwise) {
      std::uint8_t* buf = workspace_take<std::uint8_t>(ws, J * L);
      if (!buf) return;
      im2col_u8(g, Cg, xg, static_cast<std::uint8_t>(x_zero_point), buf);
      cols = buf;
    }
    const Requant rq{offset + gr * Kg, multiplier + gr * Kg, y_zero_point, qmin, qmax, out_u8};
    void* yg = static_cast<char*>(y) + static_cast<size_t>((n * g.K + gr * Kg) * L) * esize;
    conv_gemm(Kg, L, J, w + gr * Kg * J, cols, L, rowsum + gr * Kg, rq, yg, !par_items);
  });
  std::free(sums);
}

void quantized_linear(index_t N, index_t I, index_t O, const std::uint8_t* x, std::int32_t x_zero_point,
                      const std::int8_t* w, const std::int32_t* bias, const float* multiplier,
                      std::int32_t y_zero_point, std::int32_t qmin, std::int32_t qmax, bool out_u8, void* y) {
  if (N == 0) return;
  std::int32_t* sums = static_cast<std::int32_t*>(std::malloc(sizeof(std::int32_t) * 2 * static_cast<size_t>(O)));
  if (!sums) return;
  offsets(O, I, w, bias, x_zero_point, sums, sums + O);
  const Requant rq{sums + O, multiplier, y_zero_point, qmin, qmax, out_u8};
  linear_gemm(N, I, O, x, w, sums, rq, y);
  std::free(sums);
}

}  // namespace pyengine::cpu
