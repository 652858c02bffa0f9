// conv2d.cu — im2col/col2im and the convolutions of pyengine/cuda/conv2d.h: explicit columns for a
// chunk of images, then one batched GEMM (batch = images × groups) from gemm.cu; a direct kernel for
// forward convolutions with few taps per output (small CgRS, e.g. the first layer on 1-channel
// images), where building columns would cost more than the arithmetic.
#include <algorithm>

#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/conv2d.h"
#include "pyengine/cuda/gemm.h"

namespace pyengine::cuda {
namespace {

constexpr index_t kDirectMaxTaps = 32;

template <typename T>
__global__ void im2col_kernel(ConvShape s, const T* __restrict__ x, T* __restrict__ cols) {
  const index_t P = s.OH * s.OW, RS = s.R * s.S, rows = s.C * RS;
  PE_GRID_STRIDE(idx, s.N * rows * P) {
    const index_t p = idx % P, row = (idx / P) % rows, n = idx / (P * rows);
    const index_t c = row / RS, r = (row / s.S) % s.R, q = row % s.S;
    const index_t oh = p / s.OW, ow = p % s.OW;
    const index_t ih = oh * s.sh - s.ph + r * s.dh, iw = ow * s.sw - s.pw + q * s.dw;
    cols[idx] = (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) ? x[((n * s.C + c) * s.H + ih) * s.W + iw] : T(0);
  }
}

// One thread per input element: sums the column entries im2col copied from it.
template <typename T>
__global__ void col2im_kernel(ConvShape s, const T* __restrict__ cols, T* __restrict__ x) {
  const index_t P = s.OH * s.OW, RS = s.R * s.S, rows = s.C * RS;
  PE_GRID_STRIDE(idx, s.N * s.C * s.H * s.W) {
    const index_t w = idx % s.W, h = (idx / s.W) % s.H, c = (idx / (s.W * s.H)) % s.C, n = idx / (s.W * s.H * s.C);
    T sum = T(0);
    for (index_t r = 0; r < s.R; ++r) {
      const index_t th = h + s.ph - r * s.dh;
      if (th < 0 || th % s.sh != 0) continue;
      const index_t oh = th / s.sh;
      if (oh >= s.OH) continue;
      for (index_t q = 0; q < s.S; ++q) {
        const index_t tw = w + s.pw - q * s.dw;
        if (tw < 0 || tw % s.sw != 0) continue;
        const index_t ow = tw / s.sw;
        if (ow >= s.OW) continue;
        sum += cols[(n * rows + c * RS + r * s.S + q) * P + oh * s.OW + ow];
      }
    }
    x[idx] = sum;
  }
}

// One thread per output element; the CgRS taps are few (≤ kDirectMaxTaps).
template <typename T>
__global__ void conv2d_direct_kernel(ConvShape s, const T* __restrict__ x, const T* __restrict__ w,
                                     const T* __restrict__ bias, T* __restrict__ y) {
  const index_t Kg = s.K / s.G, Cg = s.C / s.G;
  PE_GRID_STRIDE(idx, s.N * s.K * s.OH * s.OW) {
    const index_t ow = idx % s.OW, oh = (idx / s.OW) % s.OH, k = (idx / (s.OW * s.OH)) % s.K,
                  n = idx / (s.OW * s.OH * s.K);
    const index_t g = k / Kg;
    T acc = bias != nullptr ? bias[k] : T(0);
    for (index_t c = 0; c < Cg; ++c) {
      const T* xp = x + (n * s.C + g * Cg + c) * s.H * s.W;
      const T* wp = w + (k * Cg + c) * s.R * s.S;
      for (index_t r = 0; r < s.R; ++r) {
        const index_t ih = oh * s.sh - s.ph + r * s.dh;
        if (ih < 0 || ih >= s.H) continue;
        for (index_t q = 0; q < s.S; ++q) {
          const index_t iw = ow * s.sw - s.pw + q * s.dw;
          if (iw >= 0 && iw < s.W) acc += xp[ih * s.W + iw] * wp[r * s.S + q];
        }
      }
    }
    y[idx] = acc;
  }
}

ConvShape with_batch(ConvShape s, index_t nb) {
  s.N = nb;
  return s;
}

}  // namespace

bool conv2d_is_pointwise(const ConvShape& s) {
  return s.R == 1 && s.S == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

bool conv2d_direct_ok(const ConvShape& s) { return (s.C / s.G) * s.R * s.S <= kDirectMaxTaps; }

index_t conv2d_chunk(const ConvShape& s, index_t budget_elems, bool direct_ok) {
  if (conv2d_is_pointwise(s) || (direct_ok && conv2d_direct_ok(s))) return 0;
  const index_t per_image = s.C * s.R * s.S * s.OH * s.OW;
  if (per_image == 0) return 1;
  const index_t chunk = budget_elems / per_image;
  return std::max<index_t>(1, std::min<index_t>(chunk, std::max<index_t>(s.N, 1)));
}

template <typename T>
void im2col(const ConvShape& s, const T* x, T* cols, cudaStream_t stream) {
  const index_t total = s.N * s.C * s.R * s.S * s.OH * s.OW;
  if (total == 0) return;
  im2col_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(s, x, cols);
  check_launch("im2col_kernel");
}

template <typename T>
void col2im(const ConvShape& s, const T* cols, T* x, cudaStream_t stream) {
  const index_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  col2im_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(s, cols, x);
  check_launch("col2im_kernel");
}

template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y, T* ws, index_t chunk, bool tf32,
                    cudaStream_t stream) {
  const index_t P = s.OH * s.OW, Kg = s.K / s.G, Cg = s.C / s.G, CgRS = Cg * s.R * s.S, CRS = s.C * s.R * s.S;
  if (s.N == 0 || s.K == 0 || P == 0) return;
  if (conv2d_direct_ok(s) && chunk == 0 && !conv2d_is_pointwise(s)) {
    const index_t total = s.N * s.K * P;
    conv2d_direct_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(s, x, w, bias, y);
    check_launch("conv2d_direct_kernel");
    return;
  }
  const bool pointwise = conv2d_is_pointwise(s);
  const index_t step = pointwise ? s.N : chunk;
  for (index_t n0 = 0; n0 < s.N; n0 += step) {
    const index_t nb = std::min(step, s.N - n0);
    const T* xs = x + n0 * s.C * s.H * s.W;
    const T* cols = xs;
    if (!pointwise) {
      im2col(with_batch(s, nb), xs, ws, stream);
      cols = ws;
    }
    GemmProblem<T> p;
    p.M = Kg; p.N = P; p.K = CgRS;
    p.batch_outer = nb; p.batch_inner = s.G;
    p.a.ptr = w; p.a.ld = CgRS; p.a.k_contig = true; p.a.stride_inner = Kg * CgRS;
    p.b.ptr = cols; p.b.ld = P; p.b.k_contig = false; p.b.stride_outer = CRS * P; p.b.stride_inner = CgRS * P;
    p.out = y + n0 * s.K * P; p.ldc = P; p.out_stride_outer = s.K * P; p.out_stride_inner = Kg * P;
    p.bias = bias; p.bias_per_row = true; p.bias_stride_inner = Kg;
    p.tf32 = tf32;
    gemm_batched(p, stream);
  }
}

template <typename T>
void conv2d_backward_input(const ConvShape& s, const T* gy, const T* w, T* gx, T* ws, index_t chunk, bool tf32,
                           cudaStream_t stream) {
  const index_t P = s.OH * s.OW, Kg = s.K / s.G, Cg = s.C / s.G, CgRS = Cg * s.R * s.S, CRS = s.C * s.R * s.S;
  if (s.N == 0 || s.C * s.H * s.W == 0) return;
  const bool pointwise = conv2d_is_pointwise(s);
  const index_t step = pointwise ? s.N : std::max<index_t>(chunk, 1);
  for (index_t n0 = 0; n0 < s.N; n0 += step) {
    const index_t nb = std::min(step, s.N - n0);
    T* gxs = gx + n0 * s.C * s.H * s.W;
    T* target = pointwise ? gxs : ws;
    GemmProblem<T> p;
    p.M = CgRS; p.N = P; p.K = Kg;
    p.batch_outer = nb; p.batch_inner = s.G;
    // A = W[g]ᵀ: element (j, m) = W[g][m][j], stored with m (the reduction index) outer.
    p.a.ptr = w; p.a.ld = CgRS; p.a.k_contig = false; p.a.stride_inner = Kg * CgRS;
    p.b.ptr = gy + n0 * s.K * P; p.b.ld = P; p.b.k_contig = false; p.b.stride_outer = s.K * P;
    p.b.stride_inner = Kg * P;
    p.out = target; p.ldc = P; p.out_stride_outer = CRS * P; p.out_stride_inner = CgRS * P;
    p.tf32 = tf32;
    gemm_batched(p, stream);
    if (!pointwise) col2im(with_batch(s, nb), ws, gxs, stream);
  }
}

template <typename T>
void conv2d_backward_weight(const ConvShape& s, const T* gy, const T* x, T* gw, T* ws, index_t chunk, bool tf32,
                            cudaStream_t stream) {
  const index_t P = s.OH * s.OW, Kg = s.K / s.G, Cg = s.C / s.G, CgRS = Cg * s.R * s.S, CRS = s.C * s.R * s.S;
  if (s.K * CgRS == 0) return;
  if (s.N == 0 || P == 0) {  // an empty batch contributes nothing: the gradient is zero
    check(cudaMemsetAsync(gw, 0, sizeof(T) * s.K * CgRS, stream), "conv2d_backward_weight (cudaMemsetAsync)");
    return;
  }
  const bool pointwise = conv2d_is_pointwise(s);
  const index_t step = pointwise ? s.N : std::max<index_t>(chunk, 1);
  for (index_t n0 = 0; n0 < s.N; n0 += step) {
    const index_t nb = std::min(step, s.N - n0);
    const T* xs = x + n0 * s.C * s.H * s.W;
    const T* cols = xs;
    if (!pointwise) {
      im2col(with_batch(s, nb), xs, ws, stream);
      cols = ws;
    }
    GemmProblem<T> p;
    p.M = Kg; p.N = CgRS; p.K = nb * P;
    p.batch_outer = 1; p.batch_inner = s.G;
    // The reduction index k = (image, pixel): segments of P, one image apart.
    p.a.ptr = gy + n0 * s.K * P; p.a.ld = P; p.a.k_contig = true; p.a.kseg = P; p.a.seg_stride = s.K * P;
    p.a.stride_inner = Kg * P;
    p.b.ptr = cols; p.b.ld = P; p.b.k_contig = true; p.b.kseg = P; p.b.seg_stride = CRS * P;
    p.b.stride_inner = CgRS * P;
    p.out = gw; p.ldc = CgRS; p.out_stride_inner = Kg * CgRS;
    p.c_in = n0 > 0 ? gw : nullptr;  // later chunks accumulate onto the first
    p.beta = T(1);
    p.tf32 = tf32;
    gemm_batched(p, stream);
  }
}

#define PE_INST(T)                                                                                              \
  template void im2col<T>(const ConvShape&, const T*, T*, cudaStream_t);                                        \
  template void col2im<T>(const ConvShape&, const T*, T*, cudaStream_t);                                        \
  template void conv2d_forward<T>(const ConvShape&, const T*, const T*, const T*, T*, T*, index_t, bool,        \
                                  cudaStream_t);                                                                \
  template void conv2d_backward_input<T>(const ConvShape&, const T*, const T*, T*, T*, index_t, bool,           \
                                         cudaStream_t);                                                         \
  template void conv2d_backward_weight<T>(const ConvShape&, const T*, const T*, T*, T*, index_t, bool,          \
                                          cudaStream_t);
PE_INST(float)
PE_INST(double)
#undef PE_INST

}  // namespace pyengine::cuda
