// ctc_loss.cu — the CTC recursions of pyengine/ctc_loss.h on the GPU: one block per sample.
//
// forward: the block's threads take the extended positions s (strided by the block size); one time
// step per barrier, α[t] computed from α[t − 1] in log_alpha (global memory, the row just written).
// backward: β the same way into the workspace, then for each t the threads take the classes c: the lse
// over the s with l'_s = c (blank: the even s; a label: the odd s whose label is c) of α + β, and the
// gradient. Arithmetic in the input's dtype, like the CPU kernel.
#include <cmath>

#include "pyengine/ctc_loss.h"
#include "pyengine/cuda/common.cuh"

namespace pyengine::cuda {
namespace {

constexpr int kCtcThreads = 256;

template <typename T>
__device__ __forceinline__ T neg_inf() {
  return -static_cast<T>(INFINITY);
}

template <typename T>
__device__ __forceinline__ T lse2(T a, T b) {
  if (a != a || b != b) return a + b;   // NaN stays NaN, +inf stays +inf (as ctc_loss.cpp's)
  const T m = a > b ? a : b;
  if (m == neg_inf<T>() || m == -neg_inf<T>()) return m;
  return m + log(exp(a - m) + exp(b - m));
}

template <typename T>
__device__ __forceinline__ T lse3(T a, T b, T c) {
  if (a != a || b != b || c != c) return a + b + c;
  T m = a > b ? a : b;
  m = m > c ? m : c;
  if (m == neg_inf<T>() || m == -neg_inf<T>()) return m;
  return m + log(exp(a - m) + exp(b - m) + exp(c - m));
}

// l'_s for sample labels tg (blank at even s).
__device__ __forceinline__ std::int64_t ext_label(const std::int64_t* tg, index_t s, index_t blank) {
  return (s & 1) ? tg[s / 2] : blank;
}

// may s be reached from s − 2
__device__ __forceinline__ bool can_skip(const std::int64_t* tg, index_t s) {
  return s >= 3 && (s & 1) && tg[s / 2] != tg[s / 2 - 1];
}

template <typename T>
__device__ __forceinline__ T raw_nll(const T* alpha, index_t SP, index_t Tn, index_t L) {
  if (Tn == 0) return L == 0 ? T(0) : static_cast<T>(INFINITY);
  const T* last = alpha + (Tn - 1) * SP;
  return -(L > 0 ? lse2(last[2 * L], last[2 * L - 1]) : last[0]);
}

template <typename T>
__global__ void ctc_loss_forward_kernel(CtcDims d, const T* __restrict__ lp, const std::int64_t* __restrict__ targets,
                                        const std::int64_t* __restrict__ offset, const std::int64_t* __restrict__ il,
                                        const std::int64_t* __restrict__ tl, bool zero_infinity, T* __restrict__ nll,
                                        T* __restrict__ log_alpha) {
  const index_t n = blockIdx.x;
  const index_t Tn = il[n], L = tl[n], S = 2 * L + 1;
  const std::int64_t* tg = targets + offset[n];
  T* alpha = log_alpha + n * d.T * d.SP;
  for (index_t i = threadIdx.x; i < d.T * d.SP; i += blockDim.x) alpha[i] = neg_inf<T>();
  __syncthreads();
  if (Tn > 0) {
    if (threadIdx.x == 0) alpha[0] = lp[n * d.C + d.blank];
    if (threadIdx.x == 1 && S > 1) alpha[1] = lp[n * d.C + tg[0]];
  }
  __syncthreads();
  for (index_t t = 1; t < Tn; ++t) {
    const T* p = lp + (t * d.N + n) * d.C;
    const T* a = alpha + (t - 1) * d.SP;
    T* cur = alpha + t * d.SP;
    for (index_t s = threadIdx.x; s < S; s += blockDim.x) {
      T prev = s == 0 ? a[0] : can_skip(tg, s) ? lse3(a[s], a[s - 1], a[s - 2]) : lse2(a[s], a[s - 1]);
      cur[s] = p[ext_label(tg, s, d.blank)] + prev;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    T v = raw_nll(alpha, d.SP, Tn, L);
    if (zero_infinity && isinf(v)) v = T(0);
    nll[n] = v;
  }
}

template <typename T>
__global__ void ctc_loss_backward_kernel(CtcDims d, const T* __restrict__ g, const T* __restrict__ lp,
                                         const std::int64_t* __restrict__ targets,
                                         const std::int64_t* __restrict__ offset, const std::int64_t* __restrict__ il,
                                         const std::int64_t* __restrict__ tl, const T* __restrict__ log_alpha,
                                         T* __restrict__ grad, T* __restrict__ beta_all) {
  const index_t n = blockIdx.x;
  const index_t Tn = il[n], L = tl[n], S = 2 * L + 1;
  const std::int64_t* tg = targets + offset[n];
  const T* alpha = log_alpha + n * d.T * d.SP;
  T* beta = beta_all + n * d.T * d.SP;
  const T nll = raw_nll(alpha, d.SP, Tn, L);
  const bool live = Tn > 0 && isfinite(nll);
  for (index_t i = threadIdx.x; i < d.T * d.C; i += blockDim.x) {
    const index_t t = i / d.C, c = i % d.C;
    if (!live || t >= Tn) grad[(t * d.N + n) * d.C + c] = T(0);
  }
  if (!live) return;   // uniform over the block: no barrier is skipped by some threads only
  for (index_t i = threadIdx.x; i < Tn * d.SP; i += blockDim.x) beta[i] = neg_inf<T>();
  __syncthreads();
  {
    const T* p = lp + ((Tn - 1) * d.N + n) * d.C;
    if (threadIdx.x == 0) beta[(Tn - 1) * d.SP + S - 1] = p[d.blank];
    if (threadIdx.x == 1 && S > 1) beta[(Tn - 1) * d.SP + S - 2] = p[tg[L - 1]];
  }
  __syncthreads();
  for (index_t t = Tn - 2; t >= 0; --t) {
    const T* p = lp + (t * d.N + n) * d.C;
    const T* b = beta + (t + 1) * d.SP;
    T* cur = beta + t * d.SP;
    for (index_t s = threadIdx.x; s < S; s += blockDim.x) {
      const T x1 = s + 1 < S ? b[s + 1] : neg_inf<T>();
      const T next = s + 2 < S && can_skip(tg, s + 2) ? lse3(b[s], x1, b[s + 2]) : lse2(b[s], x1);
      cur[s] = next == neg_inf<T>() ? next : p[ext_label(tg, s, d.blank)] + next;
    }
    __syncthreads();
  }
  const T gn = g[n];
  for (index_t i = threadIdx.x; i < Tn * d.C; i += blockDim.x) {
    const index_t t = i / d.C, c = i % d.C;
    const T* a = alpha + t * d.SP;
    const T* b = beta + t * d.SP;
    T occ = neg_inf<T>();
    if (c == d.blank) {
      for (index_t s = 0; s < S; s += 2) occ = lse2(occ, a[s] + b[s]);
    } else {
      for (index_t k = 0; k < L; ++k)
        if (tg[k] == c) occ = lse2(occ, a[2 * k + 1] + b[2 * k + 1]);
    }
    const index_t at = (t * d.N + n) * d.C + c;
    grad[at] = occ == neg_inf<T>() ? T(0) : -gn * exp(occ - lp[at] + nll);
  }
}

}  // namespace

template <typename T>
void ctc_loss_forward(const CtcDims& d, const T* log_probs, const std::int64_t* targets, const std::int64_t* offset,
                      const std::int64_t* input_lengths, const std::int64_t* target_lengths, bool zero_infinity,
                      T* nll, T* log_alpha, cudaStream_t stream) {
  if (d.N == 0) return;
  ctc_loss_forward_kernel<T><<<static_cast<unsigned>(d.N), kCtcThreads, 0, stream>>>(
      d, log_probs, targets, offset, input_lengths, target_lengths, zero_infinity, nll, log_alpha);
  check_launch("ctc_loss_forward_kernel");
}

template <typename T>
void ctc_loss_backward(const CtcDims& d, const T* grad_output, const T* log_probs, const std::int64_t* targets,
                       const std::int64_t* offset, const std::int64_t* input_lengths,
                       const std::int64_t* target_lengths, const T* log_alpha, T* grad, T* beta,
                       cudaStream_t stream) {
  if (d.N == 0) return;
  ctc_loss_backward_kernel<T><<<static_cast<unsigned>(d.N), kCtcThreads, 0, stream>>>(
      d, grad_output, log_probs, targets, offset, input_lengths, target_lengths, log_alpha, grad, beta);
  check_launch("ctc_loss_backward_kernel");
}

void ctc_copy_to_host(std::int64_t* host, const std::int64_t* device, index_t n, cudaStream_t stream) {
  check(cudaMemcpyAsync(host, device, static_cast<size_t>(n) * sizeof(std::int64_t), cudaMemcpyDeviceToHost, stream),
        "ctc_loss: copying the lengths to the host");
  check(cudaStreamSynchronize(stream), "ctc_loss: copying the lengths to the host");
}

void ctc_copy_to_device(std::int64_t* device, const std::int64_t* host, index_t n, cudaStream_t stream) {
  check(cudaMemcpyAsync(device, host, static_cast<size_t>(n) * sizeof(std::int64_t), cudaMemcpyHostToDevice, stream),
        "ctc_loss: uploading the label offsets");
  check(cudaStreamSynchronize(stream), "ctc_loss: uploading the label offsets");
}

template void ctc_loss_forward<float>(const CtcDims&, const float*, const std::int64_t*, const std::int64_t*,
                                      const std::int64_t*, const std::int64_t*, bool, float*, float*, cudaStream_t);
template void ctc_loss_forward<double>(const CtcDims&, const double*, const std::int64_t*, const std::int64_t*,
                                       const std::int64_t*, const std::int64_t*, bool, double*, double*,
                                       cudaStream_t);
template void ctc_loss_backward<float>(const CtcDims&, const float*, const float*, const std::int64_t*,
                                       const std::int64_t*, const std::int64_t*, const std::int64_t*, const float*,
                                       float*, float*, cudaStream_t);
template void ctc_loss_backward<double>(const CtcDims&, const double*, const double*, const std::int64_t*,
                                        const std::int64_t*, const std::int64_t*, const std::int64_t*, const double*,
                                        double*, double*, cudaStream_t);

}  // namespace pyengine::cuda
