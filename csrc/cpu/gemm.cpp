// gemm.cpp — picks the ISA copy of the packed GEMM (csrc/cpu/isa/gemm_isa.cpp).
#include "pyengine/gemm.h"

namespace pyengine::cpu {

template <>
void gemm<float>(bool ta, bool tb, index_t M, index_t N, index_t K, float alpha, const float* A,
                 index_t lda, const float* B, index_t ldb, float beta, float* C, index_t ldc) {
  return sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr, nullptr, false);
}

template <>
void gemm<double>(bool ta, bool tb, index_t M, index_t N, index_t K, double alpha, const double* A,
                  index_t lda, const double* B, index_t ldb, double beta, double* C, index_t ldc) {
  return dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr, nullptr, false);
}

template <>
void gemm_ex<float>(bool ta, bool tb, index_t M, index_t N, index_t K, float alpha, const float* A,
                    index_t lda, const float* B, index_t ldb, float beta, float* C, index_t ldc,
                    const float* row_bias, const float* col_bias, bool relu) {
  return sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_bias, col_bias, relu);
}

template <>
void gemm_ex<double>(bool ta, bool tb, index_t M, index_t N, index_t K, double alpha, const double* A,
                     index_t lda, const double* B, index_t ldb, double beta, double* C, index_t ldc,
                     const double* row_bias, const double* col_bias, bool relu) {
  return dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_bias, col_bias, relu);
}

}  // namespace pyengine::cpu
