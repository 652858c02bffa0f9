// conv_isa.cpp — the direct convolution kernels (see pyengine/conv2d.h), compiled once per ISA.
//
// Used for few input channels per group (first layers, depthwise), where im2col + GEMM would
// run a GEMM with a tiny inner dimension. Every (image, group) item copies its Cg input channels
// into a zero-padded buffer (so no tap needs a bounds check) and then:
//   forward          y_row[ow]  = bias + Σ_{c,r,s} w · xpad_row(c, oh·sh + r·dh)[ow·sw + s·dw]
//   backward_input   gpad_row(c, oh·sh + r·dh)[ow·sw + s·dw] += w · gy_row[ow], interior copied out
//   backward_weight  acc[ow] += gy_row[ow] · xpad_row(...)[ow·sw + s·dw] over oh, then Σ acc
// The forward keeps strips of up to 4 vectors of one output row in registers over all Cg·R·S taps
// (row_strip); a strided forward first splits the padded rows into their column phases so that
// its loads are contiguous too (pad_phases). The backward loops run along ow and are vectorised
// by the compiler for this copy's ISA. Items are spread over threads; backward_weight keeps one partial
// sum per thread and adds them at the end (no serial loop over the batch). Workspaces come from the
// calling thread's arena (pyengine/workspace.h).
#include <cstdlib>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "isa.h"
#include "pyengine/conv2d.h"


namespace pyengine::cpu::PYENGINE_ISA {
namespace {

// Copies Cg channels of one image into pad (Cg, Hp, Wp) with a zero border.
template <typename T>
void pad_image(const ConvGeom& g, index_t channels, const T* x, T* pad) {
  const index_t Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw;
  for (index_t c = 0; c < channels; ++c) {
    T* pc = pad + c * Hp * Wp;
    const T* xc = x + c * g.H * g.W;
    std::memset(pc, 0, sizeof(T) * static_cast<size_t>(g.ph * Wp));
    for (index_t h = 0; h < g.H; ++h) {
      T* row = pc + (h + g.ph) * Wp;
      for (index_t w = 0; w < g.pw; ++w) row[w] = T(0);
      std::memcpy(row + g.pw, xc + h * g.W, sizeof(T) * static_cast<size_t>(g.W));
      for (index_t w = g.pw + g.W; w < Wp; ++w) row[w] = T(0);
    }
    std::memset(pc + (g.H + g.ph) * Wp, 0, sizeof(T) * static_cast<size_t>(g.ph * Wp));
  }
}

// Strided forward (sw > 1): the padded image laid out with every row split into its sw column
// phases, phase p of padded row `row` at phases[(row·sw + p)·Wq] holding pad[row][j·sw + p]
// (j < Wq, zero past the row), so that a tap's pass along ow reads one phase contiguously instead
// of every sw-th element: pad[row][ow·sw + off] = phase (off mod sw)[ow + off div sw]. Written
// straight from x in one pass (no padded copy first).
template <typename T>
void pad_phases(const ConvGeom& g, index_t channels, const T* x, index_t Wq, T* phases) {
  const index_t Hp = g.H + 2 * g.ph, sw = g.sw;
  std::memset(phases, 0, sizeof(T) * static_cast<size_t>(channels * Hp * sw * Wq));
  for (index_t c = 0; c < channels; ++c)
    for (index_t h = 0; h < g.H; ++h) {
      const T* src = x + (c * g.H + h) * g.W;
      T* row = phases + (c * Hp + h + g.ph) * sw * Wq;
      for (index_t p = 0; p < sw; ++p) {
        // padded column j = w + pw in phase p when j ≡ p (mod sw): w = j − pw for j = p, p + sw, ...
        index_t j = p;
        while (j < g.pw) j += sw;
        T* dst = row + p * Wq;
        const index_t count = j < g.pw + g.W ? (g.pw + g.W - j + sw - 1) / sw : 0;
        const T* s0 = src + (j - g.pw);
        T* d0 = dst + j / sw;
        if (sw == 2)  // a constant stride, so the compiler deinterleaves with vector permutes
          for (index_t i = 0; i < count; ++i) d0[i] = s0[2 * i];
        else
          for (index_t i = 0; i < count; ++i) d0[i] = s0[i * sw];
      }
    }
}

template <typename T>
inline void axpy_row_scatter(index_t n, T a, const T* __restrict x, T* __restrict y, index_t sy) {
  if (sy == 1) {
    for (index_t i = 0; i < n; ++i) y[i] += a * x[i];
  } else {
    for (index_t i = 0; i < n; ++i) y[i * sy] += a * x[i];
  }
}

template <typename T>
inline void mul_acc_row(index_t n, const T* __restrict a, const T* __restrict x, index_t sx, T* __restrict acc) {
  if (sx == 1) {
    for (index_t i = 0; i < n; ++i) acc[i] += a[i] * x[i];
  } else {
    for (index_t i = 0; i < n; ++i) acc[i] += a[i] * x[i * sx];
  }
}

// One output row strip y[0 : NV·VL] = b + Σ_taps w[t] · src[t][0 : NV·VL], the accumulators in
// registers (one load per tap and vector, no load/store of y per tap).
template <typename T, int NV>
inline void row_strip(index_t taps, const T* const* __restrict src, const T* __restrict w, T b, index_t ow0,
                      T* __restrict out) {
  typedef vec_t<T> vec;
  constexpr int VL = lanes<T>;
  vec acc[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) acc[v] = splat<T>(b);
  for (index_t t = 0; t < taps; ++t) {
    const T* p = src[t] + ow0;
    const vec wv = splat<T>(w[t]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] += wv * load<T>(p + v * VL);
  }
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) store<T>(out + ow0 + v * VL, acc[v]);
}

// Reads run up to this many elements past a row's last output (whole vectors, the last tap's
// column offset): the buffers carry that much slack at the end.
template <typename T>
constexpr index_t kRowSlack = 4 * lanes<T>;

#if defined(__AVX512F__)
// Depthwise (one input and one output channel per group), stride 1, output as wide as the input
// (OW = W: "same" padding): output q = oh·W + ow reads tap (r, s) at the flat input index
// q + (r·dh − ph)·W + s·dw − pw of its channel, so every tap is one masked vector load per VL
// outputs straight from x, no padded copy and no row loop. The mask keeps the lanes whose input
// row and column are inside the image (and q < OH·OW); it depends on the geometry only, so it is
// computed once per call (vectors × taps). Masked-off lanes are never read (no fault past the
// plane). On MobileNetV2's small planes (576 channels at 14×14, 960 at 7×7, batch 1) the padded
// copy and the per-row strips cost several times the 9 FMAs per vector; on large planes the row
// strips win (32 channels at 112×112: 0.20 ms rows, 0.53 ms flat, the mask table streamed per channel).
// Strided, or OW ≠ W (float only): the same masked taps, each a gather at the input index of the
// output's (oh·sh, ow·sw) plus the tap's offset: one index vector per output vector, shared by all
// taps and channels. Measured (1 thread, b1): 576 channels 14×14 → 7×7 stride 2: 0.20 → 0.12 ms
// (torch 0.08), 192 at 28² → 14²: 0.14 → 0.13; but 144 at 56² → 28² 0.23 → 0.38, so planes of up to
// 256 outputs only.
bool dw_flat(const ConvGeom& g) {
  return g.G == g.C && g.K == g.C && g.sh == 1 && g.sw == 1 && g.OW == g.W && g.OH > 0 && g.W > 0 &&
         g.OH * g.OW <= 1024;
}
template <typename T>
bool dw_gather(const ConvGeom& g) {
  return sizeof(T) == 4 && g.G == g.C && g.K == g.C && g.OH > 0 && g.OW > 0 && g.OH * g.OW <= 256 &&
         g.H * g.W < (index_t(1) << 30);
}

template <typename T, bool Gather>
void dw_flat_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
  typedef vec_t<T> vec;
  constexpr int VL = lanes<T>;
  const index_t L = g.OH * g.OW, HW = g.H * g.W, RS = g.R * g.S, nv = (L + VL - 1) / VL;
  Workspace ws;
  std::uint32_t* masks = workspace_take<std::uint32_t>(ws, nv * RS);
  index_t* off = workspace_take<index_t>(ws, RS);
  std::int32_t* gidx = Gather ? workspace_take<std::int32_t>(ws, nv * VL) : nullptr;
  if (!masks || !off || (Gather && !gidx)) return;
  if (Gather)
    for (index_t q = 0; q < nv * VL; ++q)
      gidx[q] = q < L ? static_cast<std::int32_t>(q / g.OW * g.sh * g.W + q % g.OW * g.sw) : 0;
  for (index_t r = 0; r < g.R; ++r)
    for (index_t s = 0; s < g.S; ++s) off[r * g.S + s] = (r * g.dh - g.ph) * g.W + s * g.dw - g.pw;
  for (index_t v = 0; v < nv; ++v)
    for (index_t r = 0; r < g.R; ++r)
      for (index_t s = 0; s < g.S; ++s) {
        std::uint32_t m = 0;
        for (int l = 0; l < VL; ++l) {
          const index_t q = v * VL + l;
          if (q >= L) break;
          const index_t h = q / g.OW * g.sh + r * g.dh - g.ph, wc = q % g.OW * g.sw + s * g.dw - g.pw;
          if (h >= 0 && h < g.H && wc >= 0 && wc < g.W) m |= std::uint32_t(1) << l;
        }
        masks[v * RS + r * g.S + s] = m;
      }
  const index_t items = g.N * g.C;
  const std::uint32_t tail = L % VL ? (std::uint32_t(1) << (L % VL)) - 1 : ~std::uint32_t(0);
  auto mgather = [&](std::uint32_t m, const T* p, index_t v) -> vec {
    if constexpr (sizeof(T) == 4) {
      const __m512i iv = _mm512_loadu_si512(gidx + v * VL);
      const __m512 r = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), static_cast<__mmask16>(m), iv, p, 4);
      return reinterpret_cast<const vec&>(r);
    } else {
      return vec{};  // not used: dw_gather is float only
    }
  };
  auto mload = [](std::uint32_t m, const T* p) -> vec {
    if constexpr (sizeof(T) == 4) {
      const __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
      return reinterpret_cast<const vec&>(v);
    } else {
      const __m512d v = _mm512_maskz_loadu_pd(static_cast<__mmask8>(m), p);
      return reinterpret_cast<const vec&>(v);
    }
  };
  auto mstore = [](std::uint32_t m, T* p, vec v) {
    if constexpr (sizeof(T) == 4) _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), reinterpret_cast<__m512&>(v));
    else _mm512_mask_storeu_pd(p, static_cast<__mmask8>(m), reinterpret_cast<__m512d&>(v));
  };
  parallel_for(items, threads_for_items(items), [&](index_t item) {
    const index_t c = item % g.C;
    const T* xc = x + item * HW;
    T* yc = y + item * L;
    const T* wc = w + c * RS;
    const vec b = splat<T>(bias ? bias[c] : T(0));
    constexpr int NB = 4;  // vectors in flight: independent accumulator chains
    for (index_t v0 = 0; v0 < nv; v0 += NB) {
      const int nb = nv - v0 < NB ? static_cast<int>(nv - v0) : NB;
      vec acc[NB] = {b, b, b, b};
      for (index_t t = 0; t < RS; ++t) {
        const vec wv = splat<T>(wc[t]);
        const std::uint32_t* mt = masks + v0 * RS + t;
        // x + index with a negative index for the top rows' taps: those lanes are masked off
        const T* src = xc + ((Gather ? 0 : v0 * VL) + off[t]);
#pragma GCC unroll 4
        for (int u = 0; u < NB; ++u)
          if (u < nb) acc[u] += wv * (Gather ? mgather(mt[u * RS], src, v0 + u) : mload(mt[u * RS], src + u * VL));
      }
#pragma GCC unroll 4
      for (int u = 0; u < NB; ++u)
        if (u < nb) {
          vec a = acc[u];
          if (relu) a = a < vec{} ? vec{} : a;  // NaN stays NaN
          mstore(v0 + u == nv - 1 ? tail : ~std::uint32_t(0), yc + (v0 + u) * VL, a);
        }
    }
  });
}
#endif

template <typename T>
void forward_impl(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, bool relu) {
#if defined(__AVX512F__)
  if (dw_flat(g)) {
    dw_flat_forward<T, false>(g, x, w, bias, y, relu);
    return;
  }
  if (dw_gather<T>(g)) {
    dw_flat_forward<T, true>(g, x, w, bias, y, relu);
    return;
  }
#endif
  constexpr int VL = lanes<T>;
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw;
  const index_t L = g.OH * g.OW, RS = g.R * g.S, items = g.N * g.G, taps = Cg * RS;
  const bool phased = g.sw > 1;
  const index_t Wq = (Wp + g.sw - 1) / g.sw;   // the length of one column phase
  const index_t OWv = (g.OW + VL - 1) / VL * VL;
  const index_t slack = kRowSlack<T> + g.S * g.dw + VL;
  parallel_for(items, threads_for_items(items), [&](index_t item) {
    const index_t n = item / g.G, gr = item % g.G;
    Workspace ws;
    T* pad = phased ? nullptr : workspace_take<T>(ws, Cg * Hp * Wp + slack);
    T* phases = phased ? workspace_take<T>(ws, Cg * Hp * g.sw * Wq + slack) : nullptr;
    T* row = workspace_take<T>(ws, OWv);
    const T** src = workspace_take<const T*>(ws, taps);
    if ((phased ? !phases : !pad) || !row || !src) return;  // out of memory (the binding refuses requests beyond the machine)
    const T* xi = x + (n * g.C + gr * Cg) * g.H * g.W;
    if (phased) {
      pad_phases(g, Cg, xi, Wq, phases);
      std::memset(phases + Cg * Hp * g.sw * Wq, 0, sizeof(T) * static_cast<size_t>(slack));
    } else {
      pad_image(g, Cg, xi, pad);
      std::memset(pad + Cg * Hp * Wp, 0, sizeof(T) * static_cast<size_t>(slack));
    }
    for (index_t oh = 0; oh < g.OH; ++oh) {
      // where each tap (c, r, s) of this output row starts reading
      for (index_t c = 0; c < Cg; ++c)
        for (index_t r = 0; r < g.R; ++r) {
          const index_t prow = c * Hp + oh * g.sh + r * g.dh;
          for (index_t s = 0; s < g.S; ++s) {
            const index_t off = s * g.dw;
            src[(c * g.R + r) * g.S + s] =
                phased ? phases + (prow * g.sw + off % g.sw) * Wq + off / g.sw : pad + prow * Wp + off;
          }
        }
      for (index_t kk = 0; kk < Kg; ++kk) {
        const index_t k = gr * Kg + kk;
        const T* wk = w + k * taps;
        const T b = bias ? bias[k] : T(0);
        index_t ow0 = 0;
        for (; ow0 + 4 * VL <= OWv; ow0 += 4 * VL) row_strip<T, 4>(taps, src, wk, b, ow0, row);
        switch ((OWv - ow0) / VL) {
          case 3: row_strip<T, 3>(taps, src, wk, b, ow0, row); break;
          case 2: row_strip<T, 2>(taps, src, wk, b, ow0, row); break;
          case 1: row_strip<T, 1>(taps, src, wk, b, ow0, row); break;
          default: break;
        }
        T* yrow = y + (n * g.K + k) * L + oh * g.OW;
        if (relu)  // NaN stays NaN
          for (index_t ow = 0; ow < g.OW; ++ow) yrow[ow] = row[ow] < T(0) ? T(0) : row[ow];
        else
          std::memcpy(yrow, row, sizeof(T) * static_cast<size_t>(g.OW));
      }
    }
  });
}

template <typename T>
void backward_input_impl(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw;
  const index_t L = g.OH * g.OW, RS = g.R * g.S, items = g.N * g.G;
  const index_t pad_bytes = Cg * Hp * Wp * static_cast<index_t>(sizeof(T));
  parallel_for(items, threads_for_items(items), [&](index_t item) {
    const index_t n = item / g.G, gr = item % g.G;
    Workspace ws;
    T* pad = workspace_take<T>(ws, pad_bytes / static_cast<index_t>(sizeof(T)));
    if (!pad) return;
    std::memset(pad, 0, static_cast<size_t>(pad_bytes));
    for (index_t kk = 0; kk < Kg; ++kk) {
      const index_t k = gr * Kg + kk;
      const T* wk = w + k * Cg * RS;
      const T* gk = gy + (n * g.K + k) * L;
      for (index_t oh = 0; oh < g.OH; ++oh) {
        const T* grow = gk + oh * g.OW;
        for (index_t c = 0; c < Cg; ++c)
          for (index_t r = 0; r < g.R; ++r) {
            T* prow = pad + (c * Hp + oh * g.sh + r * g.dh) * Wp;
            for (index_t s = 0; s < g.S; ++s)
              axpy_row_scatter(g.OW, wk[(c * g.R + r) * g.S + s], grow, prow + s * g.dw, g.sw);
          }
      }
    }
    T* gxi = gx + (n * g.C + gr * Cg) * g.H * g.W;
    for (index_t c = 0; c < Cg; ++c)
      for (index_t h = 0; h < g.H; ++h)
        std::memcpy(gxi + (c * g.H + h) * g.W, pad + (c * Hp + h + g.ph) * Wp + g.pw,
                    sizeof(T) * static_cast<size_t>(g.W));
  });
}

template <typename T>
void backward_weight_impl(const ConvGeom& g, const T* gy, const T* x, T* gw) {
  const index_t Cg = g.C / g.G, Kg = g.K / g.G, Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw;
  const index_t L = g.OH * g.OW, RS = g.R * g.S, items = g.N * g.G;
  const index_t wsize = g.K * Cg * RS;
  const index_t pad_bytes = Cg * Hp * Wp * static_cast<index_t>(sizeof(T));
  const int threads = threads_for_items(items);
  // One partial grad_w per block of items (one block per thread), summed in block order at the end.
  Workspace ws;
  T* partial = workspace_take<T>(ws, threads * wsize);
  if (!partial) return;
  std::memset(partial, 0, sizeof(T) * static_cast<size_t>(threads * wsize));
  parallel_for_blocks(items, threads, threads, [&](index_t lo, index_t hi, index_t block) {
    T* mine = partial + block * wsize;
    Workspace mine_ws;   // this thread's padded image and row accumulator
    T* pad = workspace_take<T>(mine_ws, pad_bytes / static_cast<index_t>(sizeof(T)));
    T* acc = workspace_take<T>(mine_ws, g.OW);
    for (index_t item = lo; item < hi; ++item) {
      if (!pad || !acc) continue;
      const index_t n = item / g.G, gr = item % g.G;
      pad_image(g, Cg, x + (n * g.C + gr * Cg) * g.H * g.W, pad);
      for (index_t kk = 0; kk < Kg; ++kk) {
        const index_t k = gr * Kg + kk;
        const T* gk = gy + (n * g.K + k) * L;
        T* wk = mine + k * Cg * RS;
        for (index_t c = 0; c < Cg; ++c)
          for (index_t r = 0; r < g.R; ++r)
            for (index_t s = 0; s < g.S; ++s) {
              for (index_t ow = 0; ow < g.OW; ++ow) acc[ow] = T(0);
              for (index_t oh = 0; oh < g.OH; ++oh)
                mul_acc_row(g.OW, gk + oh * g.OW, pad + (c * Hp + oh * g.sh + r * g.dh) * Wp + s * g.dw,
                            g.sw, acc);
              T sum = T(0);
              for (index_t ow = 0; ow < g.OW; ++ow) sum += acc[ow];
              wk[(c * g.R + r) * g.S + s] += sum;
            }
      }
    }
  });
  for (index_t i = 0; i < wsize; ++i) {
    T sum = T(0);
    for (int t = 0; t < threads; ++t) sum += partial[t * wsize + i];
    gw[i] = sum;
  }
}

}  // namespace

void conv_direct_forward_f(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, bool relu) {
  forward_impl<float>(g, x, w, b, y, relu);
}
void conv_direct_forward_d(const ConvGeom& g, const double* x, const double* w, const double* b, double* y,
                           bool relu) {
  forward_impl<double>(g, x, w, b, y, relu);
}
void conv_direct_backward_input_f(const ConvGeom& g, const float* gy, const float* w, float* gx) {
  backward_input_impl<float>(g, gy, w, gx);
}
void conv_direct_backward_input_d(const ConvGeom& g, const double* gy, const double* w, double* gx) {
  backward_input_impl<double>(g, gy, w, gx);
}
void conv_direct_backward_weight_f(const ConvGeom& g, const float* gy, const float* x, float* gw) {
  backward_weight_impl<float>(g, gy, x, gw);
}
void conv_direct_backward_weight_d(const ConvGeom& g, const double* gy, const double* x, double* gw) {
  backward_weight_impl<double>(g, gy, x, gw);
}

PE_ISA_REGISTER(conv_direct_forward_f, conv_direct_forward_f)
PE_ISA_REGISTER(conv_direct_forward_d, conv_direct_forward_d)
PE_ISA_REGISTER(conv_direct_backward_input_f, conv_direct_backward_input_f)
PE_ISA_REGISTER(conv_direct_backward_input_d, conv_direct_backward_input_d)
PE_ISA_REGISTER(conv_direct_backward_weight_f, conv_direct_backward_weight_f)
PE_ISA_REGISTER(conv_direct_backward_weight_d, conv_direct_backward_weight_d)

}  // namespace pyengine::cpu::PYENGINE_ISA
