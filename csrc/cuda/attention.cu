// attention.cu — scaled dot-product attention of pyengine/attention.h on the GPU.
//
// The G query heads of key/value head (b, kvh) are G·L contiguous rows, so every product is one
// batched GEMM over the B·Hk heads (no copy of k or v per query head): s = q·kᵀ into the workspace
// ((B, H, L, S), the layout of the rows), a row kernel (one warp per row: scale, mask or causal bound,
// max, exp, sum, normalise, lse), out = P·v. Backward: s again and P from the saved lse, dv = Pᵀ·g (the
// reduction runs over the group's G·L rows, which sums the group), dP = g·vᵀ, a row kernel for
// D = Σ g∘out and dS = P∘(dP − D)·scale, dq = dS·k, dk = dSᵀ·q. Arithmetic in T, no TF32.
#include <cmath>

#include "pyengine/attention.h"
#include "pyengine/cuda/common.cuh"
#include "pyengine/cuda/gemm.h"

namespace pyengine::cuda {
namespace {

constexpr int kRowWarps = 8;

// Where row r (of the B·H·L rows) finds its mask row, and its causal bound.
struct RowInfo {
  index_t mask_off, n;
};

__device__ __forceinline__ RowInfo row_info(const AttentionDims& d, index_t r) {
  const index_t i = r % d.L, bh = r / d.L, h = bh % d.H, b = bh / d.H;
  RowInfo x;
  x.mask_off = (((d.MB == 1 ? 0 : b) * d.MH + (d.MH == 1 ? 0 : h)) * d.L + i) * d.S;
  x.n = d.causal ? (i + 1 < d.S ? i + 1 : d.S) : d.S;
  return x;
}

template <typename T>
__global__ void attention_softmax_kernel(AttentionDims d, T* __restrict__ s, const T* __restrict__ mask,
                                         T* __restrict__ lse) {
  const index_t rows = d.B * d.H * d.L;
  const int lane = threadIdx.x & 31;
  const T scale = static_cast<T>(d.scale), ninf = -static_cast<T>(INFINITY);
  for (index_t r = static_cast<index_t>(blockIdx.x) * kRowWarps + (threadIdx.x >> 5); r < rows;
       r += static_cast<index_t>(gridDim.x) * kRowWarps) {
    const RowInfo info = row_info(d, r);
    T* x = s + r * d.S;
    const T* m = mask != nullptr ? mask + info.mask_off : nullptr;
    T mx = ninf;
    bool nan = false;
    for (index_t j = lane; j < info.n; j += 32) {
      const T v = x[j] * scale + (m != nullptr ? m[j] : T(0));
      x[j] = v;
      mx = v > mx ? v : mx;
      nan = nan || v != v;
    }
    mx = warp_max(mx);
    if (!(mx > ninf)) {   // every column masked (or NaN): NaN, as torch's softmax; lse NaN or −inf
      nan = __any_sync(0xffffffffu, nan);
      for (index_t j = lane; j < d.S; j += 32) x[j] = j < info.n ? static_cast<T>(NAN) : T(0);
      if (lane == 0) lse[r] = nan ? static_cast<T>(NAN) : ninf;
      continue;
    }
    T sum = T(0);
    for (index_t j = lane; j < info.n; j += 32) {
      const T e = exp(x[j] - mx);
      x[j] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    const T inv = T(1) / sum;
    for (index_t j = lane; j < d.S; j += 32) x[j] = j < info.n ? x[j] * inv : T(0);
    if (lane == 0) lse[r] = mx + log(sum);
  }
}

template <typename T>
__global__ void attention_probs_kernel(AttentionDims d, T* __restrict__ s, const T* __restrict__ mask,
                                       const T* __restrict__ lse) {
  const index_t rows = d.B * d.H * d.L;
  const int lane = threadIdx.x & 31;
  const T scale = static_cast<T>(d.scale), ninf = -static_cast<T>(INFINITY);
  for (index_t r = static_cast<index_t>(blockIdx.x) * kRowWarps + (threadIdx.x >> 5); r < rows;
       r += static_cast<index_t>(gridDim.x) * kRowWarps) {
    const RowInfo info = row_info(d, r);
    T* x = s + r * d.S;
    const T* m = mask != nullptr ? mask + info.mask_off : nullptr;
    const T l = lse[r];
    const index_t n = l > ninf ? info.n : 0;
    for (index_t j = lane; j < d.S; j += 32)
      x[j] = j < n ? exp(x[j] * scale + (m != nullptr ? m[j] : T(0)) - l) : T(0);
  }
}

template <typename T>
__global__ void attention_grad_kernel(AttentionDims d, const T* __restrict__ g, const T* __restrict__ o,
                                      const T* __restrict__ lse, const T* __restrict__ p, T* __restrict__ ds) {
  const index_t rows = d.B * d.H * d.L;
  const int lane = threadIdx.x & 31;
  const T scale = static_cast<T>(d.scale), ninf = -static_cast<T>(INFINITY);
  for (index_t r = static_cast<index_t>(blockIdx.x) * kRowWarps + (threadIdx.x >> 5); r < rows;
       r += static_cast<index_t>(gridDim.x) * kRowWarps) {
    T acc = T(0);
    if (lse[r] > ninf)
      for (index_t e = lane; e < d.Ev; e += 32) acc += g[r * d.Ev + e] * o[r * d.Ev + e];
    const T D = warp_sum(acc);
    const T* pr = p + r * d.S;
    T* dr = ds + r * d.S;
    for (index_t j = lane; j < d.S; j += 32) dr[j] = pr[j] * (dr[j] - D) * scale;
  }
}

unsigned row_blocks(index_t rows) {
  index_t b = (rows + kRowWarps - 1) / kRowWarps;
  if (b < 1) b = 1;
  if (b > 65535LL * 8) b = 65535LL * 8;
  return static_cast<unsigned>(b);
}

// An operand of a GEMM batched over the B·Hk key/value heads.
template <typename T>
Operand<T> operand(const T* ptr, index_t ld, bool k_contig, index_t stride) {
  Operand<T> x;
  x.ptr = ptr;
  x.ld = ld;
  x.k_contig = k_contig;
  x.stride_outer = stride;
  return x;
}

template <typename T>
void product(const AttentionDims& d, index_t M, index_t N, index_t K, Operand<T> a, Operand<T> b, T* out,
             index_t ldc, index_t out_stride, cudaStream_t stream) {
  GemmProblem<T> p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.batch_outer = d.B * d.Hk;
  p.a = a;
  p.b = b;
  p.out = out;
  p.ldc = ldc;
  p.out_stride_outer = out_stride;
  gemm_batched<T>(p, stream);
}

}  // namespace

index_t attention_workspace(const AttentionDims& d, bool backward) {
  const index_t scores = d.B * d.H * d.L * d.S;
  return (backward ? 2 * scores : scores) > 0 ? (backward ? 2 * scores : scores) : 1;
}

template <typename T>
void attention_forward(const AttentionDims& d, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse,
                       T* workspace, cudaStream_t stream) {
  const index_t GL = (d.H / d.Hk) * d.L, rows = d.B * d.H * d.L;
  if (rows == 0) return;
  T* s = workspace;
  // s = q·kᵀ: (G·L × E)·(E × S) per key/value head
  product<T>(d, GL, d.S, d.E, operand(q, d.E, true, GL * d.E), operand(k, d.E, true, d.S * d.E), s, d.S, GL * d.S,
             stream);
  attention_softmax_kernel<T><<<row_blocks(rows), kRowWarps * 32, 0, stream>>>(d, s, mask, lse);
  check_launch("attention_softmax_kernel");
  // out = P·v: (G·L × S)·(S × Ev)
  product<T>(d, GL, d.Ev, d.S, operand<T>(s, d.S, true, GL * d.S), operand(v, d.Ev, false, d.S * d.Ev), out, d.Ev,
             GL * d.Ev, stream);
}

template <typename T>
void attention_backward(const AttentionDims& d, const T* g, const T* q, const T* k, const T* v, const T* out,
                        const T* lse, const T* mask, T* dq, T* dk, T* dv, T* workspace, cudaStream_t stream) {
  const index_t GL = (d.H / d.Hk) * d.L, rows = d.B * d.H * d.L;
  T* p = workspace;
  T* ds = workspace + rows * d.S;
  if (rows == 0 || d.S == 0) {   // no scores: every gradient is 0
    if (dq != nullptr) check(cudaMemsetAsync(dq, 0, sizeof(T) * rows * d.E, stream), "attention_backward");
    if (dk != nullptr) check(cudaMemsetAsync(dk, 0, sizeof(T) * d.B * d.Hk * d.S * d.E, stream), "attention_backward");
    if (dv != nullptr) check(cudaMemsetAsync(dv, 0, sizeof(T) * d.B * d.Hk * d.S * d.Ev, stream), "attention_backward");
    return;
  }
  product<T>(d, GL, d.S, d.E, operand(q, d.E, true, GL * d.E), operand(k, d.E, true, d.S * d.E), p, d.S, GL * d.S,
             stream);
  attention_probs_kernel<T><<<row_blocks(rows), kRowWarps * 32, 0, stream>>>(d, p, mask, lse);
  check_launch("attention_probs_kernel");
  if (dv != nullptr)   // dv = Pᵀ·g: (S × G·L)·(G·L × Ev), the reduction over the group's rows
    product<T>(d, d.S, d.Ev, GL, operand<T>(p, d.S, false, GL * d.S), operand(g, d.Ev, false, GL * d.Ev), dv, d.Ev,
               d.S * d.Ev, stream);
  if (dq == nullptr && dk == nullptr) return;
  // dP = g·vᵀ: (G·L × Ev)·(Ev × S)
  product<T>(d, GL, d.S, d.Ev, operand(g, d.Ev, true, GL * d.Ev), operand(v, d.Ev, true, d.S * d.Ev), ds, d.S,
             GL * d.S, stream);
  attention_grad_kernel<T><<<row_blocks(rows), kRowWarps * 32, 0, stream>>>(d, g, out, lse, p, ds);
  check_launch("attention_grad_kernel");
  if (dq != nullptr)   // dq = dS·k: (G·L × S)·(S × E)
    product<T>(d, GL, d.E, d.S, operand<T>(ds, d.S, true, GL * d.S), operand(k, d.E, false, d.S * d.E), dq, d.E,
               GL * d.E, stream);
  if (dk != nullptr)   // dk = dSᵀ·q: (S × G·L)·(G·L × E)
    product<T>(d, d.S, d.E, GL, operand<T>(ds, d.S, false, GL * d.S), operand(q, d.E, false, GL * d.E), dk, d.E,
               d.S * d.E, stream);
}

template void attention_forward<float>(const AttentionDims&, const float*, const float*, const float*, const float*,
                                       float*, float*, float*, cudaStream_t);
template void attention_forward<double>(const AttentionDims&, const double*, const double*, const double*,
                                        const double*, double*, double*, double*, cudaStream_t);
template void attention_backward<float>(const AttentionDims&, const float*, const float*, const float*, const float*,
                                        const float*, const float*, const float*, float*, float*, float*, float*,
                                        cudaStream_t);
template void attention_backward<double>(const AttentionDims&, const double*, const double*, const double*,
                                         const double*, const double*, const double*, const double*, double*, double*,
                                         double*, double*, cudaStream_t);

}  // namespace pyengine::cuda
