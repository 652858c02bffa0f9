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
// The thread pool (pyengine/parallel.h) splits the M×N tiles of each block across threads.
// float is the fast path; double uses the same code with half the lanes so gradient checks run
// through the real kernel.
#pragma once
#include "pyengine/common.h"

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

}  // namespace pyengine::cpu
