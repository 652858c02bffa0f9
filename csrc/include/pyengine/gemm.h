// pyengine/gemm.h — general matrix multiply, row-major.
//
//   C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C[M,N]
//
//   op(A) = A    (A stored M×K, row stride lda ≥ K)   when trans_a is false
//   op(A) = Aᵀ   (A stored K×M, row stride lda ≥ M)   when trans_a is true; likewise B with ldb.
//   C is written; when beta == 0 it is not read (NaN in C does not leak into the result).
//
// Algorithm (csrc/cpu/isa/gemm_isa.cpp): the Goto/BLIS scheme. B is packed in KC×NC blocks into
// NR-wide column panels, A in MC×KC blocks into MR-tall row panels, and a register-blocked
// MR×NR micro-kernel (vector FMAs over the N direction, A broadcast) runs over the panels.
// OpenMP splits the M×N tiles of each block across threads. float is the fast path; double uses
// the same code with half the lanes so gradient checks run through the real kernel.
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (csrc/bindings/bind_gemm.cpp, both devices): a and b float 2-D of one dtype,
// inner dimensions equal, c (when given) (M, N) of the same dtype. Returns {M, N, K}.
namespace pyengine::contract {

struct GemmDims { index_t M, N, K; };

inline GemmDims gemm(const char* fn, const Array& a, const Array& b, const Array& c, bool trans_a, bool trans_b) {
  float_array(fn, a, 2);
  float_array(fn, b, 2);
  same_dtype(fn, a, b);
  const index_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const index_t kb = trans_b ? b.dim(1) : b.dim(0), n = trans_b ? b.dim(0) : b.dim(1);
  if (k != kb)
    value_error(fn, ": op(a) is ", m, "x", k, " and op(b) is ", kb, "x", n, "; inner dimensions ", k, " and ", kb,
                " differ");
  checked_numel(fn, "output shape", {m, n});
  if (c.present) {
    float_array(fn, c, 2);
    same_dtype(fn, a, c);
    shape_is(fn, c, {m, n});
  }
  return {m, n, k};
}

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc);

// GEMM with a fused epilogue, applied as C is stored (no second pass over C):
//
//   C[i,j] = act( alpha · (op(A)·op(B))[i,j] + beta · C[i,j] + row_bias[i] + col_bias[j] )
//
//   row_bias: M values or null (convolution: one bias per output channel = row of C = K×L)
//   col_bias: N values or null (linear: y = x·Wᵀ + b, one bias per column of C = N×O)
//   relu:     act(v) = max(v, 0) (NaN stays NaN) when true, identity otherwise.
template <typename T>
void gemm_ex(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
             index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, const T* row_bias,
             const T* col_bias, bool relu);

// ---- the per-ISA kernels (csrc/cpu/isa/gemm_isa.cpp registers one copy per instruction set)
PE_ISA_KERNEL(sgemm, void(bool, bool, index_t, index_t, index_t, float, const float*, index_t, const float*, index_t,
              float, float*, index_t, const float*, const float*, bool));
PE_ISA_KERNEL(dgemm, void(bool, bool, index_t, index_t, index_t, double, const double*, index_t, const double*,
              index_t, double, double*, index_t, const double*, const double*, bool));

}  // namespace pyengine::cpu
