// quantized.cpp — int8 convolution and linear (see pyengine/quantized.h): offsets, im2col in uint8,
// the split over threads, and the choice of the ISA copy of csrc/cpu/isa/quantized_isa.cpp.
//
// The copy: AVX-512 with VNNI when the active instruction set is avx512 and the CPU has VNNI; the
// AVX2 copy when the active set is avx512 (without VNNI) or avx2; generic otherwise.
#include <cstdlib>
#include <cstring>

#include "pyengine/isa_dispatch.h"
#include "pyengine/quantized.h"
#include "pyengine/parallel.h"

// PE_ISA_CALL as a statement inside a function (PE_ISA_CALL itself returns from the function).
#define PE_ISA_CALL_VOID(fn, ...) [&]() { PE_ISA_CALL(fn, __VA_ARGS__); }()

namespace pyengine::cpu {

PE_ISA_DECLARE(void quantized_conv_gemm(index_t, index_t, index_t, const std::int8_t*, const std::uint8_t*, index_t,
                                        const std::int32_t*, const Requant&, void*, bool))
PE_ISA_DECLARE(void quantized_conv_s1(const ConvGeom&, const std::uint8_t*, std::uint8_t, const std::int8_t*,
                                      const std::int32_t*, const Requant&, void*))
PE_ISA_DECLARE(bool quantized_depthwise(const ConvGeom&, const std::uint8_t*, std::uint8_t, const std::int8_t*,
                                        const Requant&, void*))
PE_ISA_DECLARE(void quantize_f32(index_t, const float*, float, std::int32_t, std::uint8_t*))
PE_ISA_DECLARE(void max_pool_2x2_row(index_t, const std::uint8_t*, const std::uint8_t*, std::uint8_t*))
PE_ISA_DECLARE(void quantized_linear_gemm(index_t, index_t, index_t, const std::uint8_t*, const std::int8_t*,
                                          const std::int32_t*, const Requant&, void*))

namespace {

enum class QKernel { vnni, avx2, generic };

bool cpu_has_vnni() {
#if defined(__x86_64__) || defined(_M_X64)
  return __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

QKernel active_kernel() {
  const Isa isa = active_isa();
#if defined(PYENGINE_HAVE_AVX512)
  if (isa == Isa::avx512 && cpu_has_vnni()) return QKernel::vnni;
#endif
#if defined(PYENGINE_HAVE_AVX2)
  if (isa == Isa::avx512 || isa == Isa::avx2) return QKernel::avx2;
#endif
  (void)isa;
  return QKernel::generic;
}

void conv_gemm(index_t M, index_t L, index_t J, const std::int8_t* w, const std::uint8_t* cols, index_t ld,
               const std::int32_t* rowsum, const Requant& rq, void* y, bool split) {
  switch (active_kernel()) {
#if defined(PYENGINE_HAVE_AVX512)
    case QKernel::vnni: return avx512::quantized_conv_gemm(M, L, J, w, cols, ld, rowsum, rq, y, split);
#endif
#if defined(PYENGINE_HAVE_AVX2)
    case QKernel::avx2: return avx2::quantized_conv_gemm(M, L, J, w, cols, ld, rowsum, rq, y, split);
#endif
    default: return generic::quantized_conv_gemm(M, L, J, w, cols, ld, rowsum, rq, y, split);
  }
}

// false when only the generic copy would run (it has no stride-1 kernel; im2col + loops instead).
bool conv_s1(const ConvGeom& g, const std::uint8_t* x, std::uint8_t pad, const std::int8_t* w,
             const std::int32_t* rowsum, const Requant& rq, void* y) {
  switch (active_kernel()) {
#if defined(PYENGINE_HAVE_AVX512)
    case QKernel::vnni: avx512::quantized_conv_s1(g, x, pad, w, rowsum, rq, y); return true;
#endif
#if defined(PYENGINE_HAVE_AVX2)
    case QKernel::avx2: avx2::quantized_conv_s1(g, x, pad, w, rowsum, rq, y); return true;
#endif
    default: return false;
  }
}

void linear_gemm(index_t N, index_t I, index_t O, const std::uint8_t* x, const std::int8_t* w,
                 const std::int32_t* rowsum, const Requant& rq, void* y) {
  switch (active_kernel()) {
#if defined(PYENGINE_HAVE_AVX512)
    case QKernel::vnni: return avx512::quantized_linear_gemm(N, I, O, x, w, rowsum, rq, y);
#endif
#if defined(PYENGINE_HAVE_AVX2)
    case QKernel::avx2: return avx2::quantized_linear_gemm(N, I, O, x, w, rowsum, rq, y);
#endif
    default: return generic::quantized_linear_gemm(N, I, O, x, w, rowsum, rq, y);
  }
}

// Grow-only, 64-byte-aligned workspace of the calling thread.
void* workspace(int slot, index_t bytes) {
  static thread_local void* buffers[2] = {nullptr, nullptr};
  static thread_local index_t sizes[2] = {0, 0};
  if (bytes < 64) bytes = 64;
  if (bytes > sizes[slot]) {
    std::free(buffers[slot]);
    const index_t rounded = (bytes + 63) / 64 * 64;
    buffers[slot] = std::aligned_alloc(64, static_cast<size_t>(rounded));
    sizes[slot] = buffers[slot] ? rounded : 0;
  }
  return buffers[slot];
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

void quantized_max_pool2d(index_t N, index_t C, index_t H, index_t W, index_t kh, index_t kw, index_t sh,
                          index_t sw, index_t ph, index_t pw, index_t dh, index_t dw, index_t OH, index_t OW,
                          const std::uint8_t* x, std::uint8_t* y) {
  const index_t planes = N * C;
  const bool par = get_num_threads() > 1 && planes * OH * OW > (index_t(1) << 16);
  parallel_for(planes, (par) ? get_num_threads() : 1, [&](index_t p) {
    const std::uint8_t* xp = x + p * H * W;
    std::uint8_t* yp = y + p * OH * OW;
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && dh == 1 && dw == 1 && 2 * OH <= H &&
        2 * OW <= W) {
      for (index_t oh = 0; oh < OH; ++oh)   // the common 2×2/2 case, vectorised per ISA
        PE_ISA_CALL_VOID(max_pool_2x2_row, OW, xp + 2 * oh * W, xp + (2 * oh + 1) * W, yp + oh * OW);
      return;
    }
    for (index_t oh = 0; oh < OH; ++oh)
      for (index_t ow = 0; ow < OW; ++ow) {
        std::uint8_t m = 0;
        for (index_t r = 0; r < kh; ++r) {
          const index_t ih = oh * sh - ph + r * dh;
          if (ih < 0 || ih >= H) continue;
          for (index_t s = 0; s < kw; ++s) {
            const index_t iw = ow * sw - pw + s * dw;
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
  parallel_for(threads, threads, [&](index_t t) {
    const index_t b = t * chunk, e = b + chunk < n ? b + chunk : n;
    if (b < e) PE_ISA_CALL_VOID(quantize_f32, e - b, x + b, scale, zero_point, y + b);
  });
}

const char* quantized_kernel_name() {
  switch (active_kernel()) {
    case QKernel::vnni: return "avx512_vnni";
    case QKernel::avx2: return "avx2";
    default: return "generic";
  }
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
  // Depthwise (one input and one output channel per group): the VNNI row kernel when it applies.
  if (g.G == g.C && g.G == g.K && g.R <= 8 && active_kernel() == QKernel::vnni) {
#if defined(PYENGINE_HAVE_AVX512)
    const Requant rq{offset, multiplier, y_zero_point, qmin, qmax, out_u8};
    if (avx512::quantized_depthwise(g, x, static_cast<std::uint8_t>(x_zero_point), w, rq, y)) {
      std::free(sums);
      return;
    }
#endif
  }
  // Stride 1, one group, a real kernel window: the shifted-image kernel, no im2col.
  if (g.G == 1 && g.sh == 1 && g.sw == 1 && !pointwise && active_kernel() != QKernel::generic) {
    const Requant rq{offset, multiplier, y_zero_point, qmin, qmax, out_u8};
    conv_s1(g, x, static_cast<std::uint8_t>(x_zero_point), w, rowsum, rq, y);
    std::free(sums);
    return;
  }
  parallel_for(items, (par_items) ? threads : 1, [&](index_t it) {
    const index_t n = it / g.G, gr = it % g.G;
    const std::uint8_t* xg = x + (n * g.C + gr * Cg) * HW;
    const std::uint8_t* cols = xg;
    if (!pointwise) {
      std::uint8_t* buf = static_cast<std::uint8_t*>(workspace(0, J * L));
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
