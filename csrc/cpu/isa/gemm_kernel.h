// gemm_kernel.h — the register-blocked GEMM micro-kernel of this ISA copy, shared by the packed
// GEMM (gemm_isa.cpp) and the LSTM recurrence (lstm_isa.cpp), and the blocking it is built for.
// Per-ISA (include after isa.h): internal linkage, never merged across copies.
//
// A tile is RM ≤ MR rows of C by NV vectors of VL lanes (NR = NV·VL columns): the RM × NV
// accumulators stay in registers and do acc[i][v] += A[i, k] · B[k, v·VL : (v+1)·VL] over k, A
// broadcast from a packed panel (element (i, k) at a[k·MR + i]) or read in place (a[i·lda + k]), B
// from a packed panel of width NV·VL (element (k, j) at b[k·W + j]).
#pragma once
#include <cstring>

#include "isa.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

// 12×2 zmm accumulators + 2 B vectors + a broadcast = 27 of 32 registers (AVX-512); 6×2 + 2 + 1 = 15
// of 16 otherwise.
constexpr int kMR = kVecRegisters == 32 ? 12 : 6;
constexpr int kNV = 2;

template <typename T>
struct Blocking {
  static constexpr int VL = lanes<T>;
  static constexpr int MR = kMR;
  static constexpr int NR = kNV * VL;
  static constexpr index_t KC = sizeof(T) == 4 ? 512 : 256;
  static constexpr index_t MC = kMR * (sizeof(T) == 4 ? 40 : 24);
  static constexpr index_t NC = sizeof(T) == 4 ? 4096 : 2048;
};

// What the last K block adds on the way out (pyengine/gemm.h): per-row and per-column bias, ReLU.
// The pointers are offset to the tile's first row / column; null when absent.
template <typename T>
struct Epilogue {
  const T* row_bias = nullptr;
  const T* col_bias = nullptr;
  bool relu = false;
  T apply(T r, index_t i, index_t j) const {
    if (row_bias) r += row_bias[i];
    if (col_bias) r += col_bias[j];
    return relu && r < T(0) ? T(0) : r;
  }
  Epilogue at(index_t i, index_t j) const {
    return Epilogue{row_bias ? row_bias + i : nullptr, col_bias ? col_bias + j : nullptr, relu};
  }
};

// C[0:m, 0:n] = alpha · A·Bp + beta · C for one tile of RM (≤ MR) rows and NV·VL columns.
// A is either a packed panel (PA: element (i, k) at a[k·MR + i]) or, for a full panel of a
// non-transposed A that is used by few B panels, read in place (element (i, k) at a[i·lda + k]).
// The RM accumulator rows stay in registers: acc[i][v] += A[i,k] · B[k, v·VL : (v+1)·VL].
template <typename T, int NV, int RM, bool PA>
inline void micro_kernel(index_t kc, const T* __restrict a, index_t lda, const T* __restrict b,
                         T* __restrict c, index_t ldc, T alpha, T beta, int m, int n, const Epilogue<T>& e) {
  using vec = vec_t<T>;
  constexpr int MR = Blocking<T>::MR, VL = Blocking<T>::VL, W = NV * VL;
  vec acc[RM][NV];
#pragma GCC unroll 16
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vec{};
  for (index_t k = 0; k < kc; ++k) {
    vec bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = *reinterpret_cast<const vec*>(b + k * W + v * VL);
#pragma GCC unroll 16
    for (int i = 0; i < RM; ++i) {
      const T av = PA ? a[k * MR + i] : a[i * lda + k];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += av * bv[v];
    }
  }
  if (m == RM && n == W) {
#pragma GCC unroll 16
    for (int i = 0; i < RM; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        vec out = acc[i][v] * alpha;
        T* cp = c + i * ldc + v * VL;
        if (beta != T(0)) {
          vec old;
          std::memcpy(&old, cp, sizeof(vec));
          out += old * beta;
        }
        if (e.row_bias) out += e.row_bias[i];
        if (e.col_bias) {
          vec cb;
          std::memcpy(&cb, e.col_bias + v * VL, sizeof(vec));
          out += cb;
        }
        if (e.relu) out = out < vec{} ? vec{} : out;  // NaN stays NaN, as in torch.relu
        std::memcpy(cp, &out, sizeof(vec));
      }
    }
    return;
  }
  alignas(64) T tile[RM * W];
  for (int i = 0; i < RM; ++i)
    for (int v = 0; v < NV; ++v) std::memcpy(tile + i * W + v * VL, &acc[i][v], sizeof(vec));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      T r = alpha * tile[i * W + j];
      if (beta != T(0)) r += beta * c[i * ldc + j];
      c[i * ldc + j] = e.apply(r, i, j);
    }
}

// Picks the micro-kernel for an m×n tile: 1 or 2 vectors wide, MR, ⅔MR or ⅓MR rows (so a short
// last panel does not pay for MR rows of FMAs). A B panel of at most VL columns is packed VL wide
// by the GEMM; `full_panels` says every panel is NR wide (the LSTM's packed w_hh).
template <typename T, bool PA>
inline void tile(index_t kc, const T* a, index_t lda, const T* b, T* c, index_t ldc, T alpha, T beta,
                 int m, int n, const Epilogue<T>& e, bool full_panels = false) {
  constexpr int MR = Blocking<T>::MR, VL = Blocking<T>::VL, R2 = 2 * MR / 3, R1 = MR / 3;
  if (n > VL || full_panels) {
    if (m > R2) micro_kernel<T, 2, MR, PA>(kc, a, lda, b, c, ldc, alpha, beta, m, n, e);
    else if (m > R1) micro_kernel<T, 2, R2, PA>(kc, a, lda, b, c, ldc, alpha, beta, m, n, e);
    else micro_kernel<T, 2, R1, PA>(kc, a, lda, b, c, ldc, alpha, beta, m, n, e);
  } else {
    if (m > R2) micro_kernel<T, 1, MR, PA>(kc, a, lda, b, c, ldc, alpha, beta, m, n, e);
    else if (m > R1) micro_kernel<T, 1, R2, PA>(kc, a, lda, b, c, ldc, alpha, beta, m, n, e);
    else micro_kernel<T, 1, R1, PA>(kc, a, lda, b, c, ldc, alpha, beta, m, n, e);
  }
}

}  // namespace
}  // namespace pyengine::cpu::PYENGINE_ISA
