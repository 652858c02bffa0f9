// pyengine/cuda/gemm.h — general matrix multiply on the GPU, row-major, batched, with an epilogue.
//
//   for every batch index (bo, bi) in [0, batch_outer) × [0, batch_inner):
//     Out[M,N] = alpha · A[M,K] · B[K,N] + beta · Cin[M,N] + bias
//
// Each operand is described by an Operand: element (i, k) of A (i = row m) or element (k, i) of
// B (i = column n) lives at (batch = bo·stride_outer + bi·stride_inner)
//     k_contig == true :  ptr + batch + i·ld + (k / kseg)·seg_stride + (k % kseg)
//     k_contig == false:  ptr + batch + (k / kseg)·seg_stride + (k % kseg)·ld + i
// A not transposed (stored M×K) is k_contig with ld = lda; A transposed (stored K×M) is not.
// B not transposed (stored K×N) is not k_contig; B transposed (stored N×K) is.
// kseg splits the reduction index into segments laid out seg_stride apart: it lets the weight
// gradient of a convolution reduce over (image, output pixel) in one GEMM without a copy. kseg = K
// (and seg_stride = 0) is a plain matrix.
//
// Out (and Cin, which may alias Out) sit at out + bo·out_stride_outer + bi·out_stride_inner +
// m·ldc + n. Cin is not read when beta == 0 (NaN there does not leak). bias (nullable) adds
// bias[bo·bias_stride_outer + bi·bias_stride_inner + m] when bias_per_row, else the same with n.
//
// Algorithm (csrc/cuda/gemm.cu): 2-D block tiling through shared memory (double buffered, the next
// tile is fetched into registers while the current one is multiplied), register blocking (each
// thread owns a TM×TN block of Out), 16-byte vector loads where the operand's alignment allows, a
// scalar bounds-checked path on the edges. float uses 128×128×8 tiles with 8×8 per thread, double
// 64×64×8 with 4×4. With tf32 (float only) the product runs on tensor cores (wmma m16n16k8,
// inputs rounded to TF32, accumulation in float). Launches on `stream`; never synchronises.
#pragma once
#include "pyengine/common.h"

namespace pyengine::cuda {

template <typename T>
struct Operand {
  const T* ptr = nullptr;
  index_t ld = 0;
  bool k_contig = true;
  index_t kseg = 0;        // 0 means K (no segmentation)
  index_t seg_stride = 0;
  index_t stride_outer = 0;
  index_t stride_inner = 0;
};

template <typename T>
struct GemmProblem {
  index_t M = 0, N = 0, K = 0;
  index_t batch_outer = 1, batch_inner = 1;
  Operand<T> a, b;
  T* out = nullptr;
  const T* c_in = nullptr;  // same layout as out; may be out itself
  index_t ldc = 0, out_stride_outer = 0, out_stride_inner = 0;
  T alpha = T(1), beta = T(0);
  const T* bias = nullptr;
  bool bias_per_row = true;
  index_t bias_stride_outer = 0, bias_stride_inner = 0;
  bool tf32 = false;        // float only: tensor cores with TF32 inputs
};

// Runs one (batched) GEMM. Throws CudaError naming the kernel if the launch fails.
template <typename T>
void gemm_batched(const GemmProblem<T>& p, cudaStream_t stream);

// The BLAS-shaped product of csrc/include/pyengine/gemm.h on device pointers, with a bias:
//   C[M,N] = alpha · op(A) · op(B) + beta · Cin + bias, C written (Cin may be null when beta == 0;
//   bias null, or M values added per row when bias_per_row, else N values per column).
template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, const T* Cin, T* C, index_t ldc,
          const T* bias, bool bias_per_row, bool tf32, cudaStream_t stream);

}  // namespace pyengine::cuda
