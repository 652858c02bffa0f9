// recurrence.h — the pieces of a row-split float32 recurrence (the GRU's and the LSTM's:
// csrc/cpu/isa/gru_isa.cpp, lstm_isa.cpp), per ISA copy (include after isa.h; inside each copy's own namespace, never merged across copies).
//
// Threads split the batch rows once for a whole sequence: step t of a row needs only that row's
// state from step t ± 1, so each thread runs its rows through every step with no barrier. Per step
// and thread, the rows of the state are packed block by block (MR rows, pack_all_rows), multiplied
// by a weight matrix packed once per call into NR-column panels (pack_panels / pack_panels_t)
// through the GEMM's micro-kernel (rows_gemm), and a fused element-wise pass follows on the same
// rows while their results are still in L2.
//
// Vector maths on float: σ(x) = 1/(1 + e^−x) with isa.h's exp (relative error < 1e-7; e^−x = inf
// gives 0, as it should); tanh uses an odd minimax polynomial for |x| < 0.625 (where 1 − 2/(e^{2|x|}+1)
// would cancel) and that identity elsewhere (e^{2|x|} = inf gives ±1); relative error about 1.3e-7.
#pragma once
#include <cstring>

#include "gemm_kernel.h"
#include "isa.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace rec {

constexpr int VL = lanes<float>;
constexpr int MR = Blocking<float>::MR;
constexpr int NR = Blocking<float>::NR;
typedef vec_t<float> vf;

// n lanes from p (the rest zero); n == VL is the common, branch-free case once inlined.
inline vf load_n(const float* p, int n) {
  vf v = vf{};
  if (n == VL)
    std::memcpy(&v, p, sizeof(vf));
  else
    std::memcpy(&v, p, static_cast<size_t>(n) * sizeof(float));
  return v;
}

inline void store_n(float* p, vf v, int n) {
  if (n == VL)
    std::memcpy(p, &v, sizeof(vf));
  else
    std::memcpy(p, &v, static_cast<size_t>(n) * sizeof(float));
}

inline vf vsigmoid(vf x) { return splat(1.0f) / (splat(1.0f) + vexp<float>(-x)); }

inline vf vtanh(vf x) {
  const vf ax = vabs<float>(x);
  const vf e = vexp<float>(splat(2.0f) * ax);
  vf large = splat(1.0f) - splat(2.0f) / (e + splat(1.0f));
  large = x < splat(0.0f) ? -large : large;
  const vf z = x * x;
  vf p = splat(-5.70498872745e-3f);
  p = p * z + splat(2.06390887954e-2f);
  p = p * z + splat(-5.37397155531e-2f);
  p = p * z + splat(1.33314422036e-1f);
  p = p * z + splat(-3.33332819422e-1f);
  const vf small = p * z * x + x;
  return ax < splat(0.625f) ? small : large;
}

// ap[k·MR + i] = A[i, k] for the m ≤ MR rows of A (row stride lda) and k < K; rows m..MR zero.
inline void pack_rows(const float* A, index_t lda, int m, index_t K, float* ap) {
  for (int i = 0; i < m; ++i) {
    const float* row = A + i * lda;
    for (index_t k = 0; k < K; ++k) ap[k * MR + i] = row[k];
  }
  for (int i = m; i < MR; ++i)
    for (index_t k = 0; k < K; ++k) ap[k * MR + i] = 0.0f;
}

// All `rows` rows of A (row stride lda, K columns), block b (rows b·MR …) at ap + b·MR·K.
inline void pack_all_rows(const float* A, index_t lda, index_t rows, index_t K, float* ap) {
  for (index_t rb = 0; rb < rows; rb += MR)
    pack_rows(A + rb * lda, lda, rows - rb < MR ? static_cast<int>(rows - rb) : MR, K, ap + rb * K);
}

// Panels of B = Wᵀ for W (cols, K): packed[p][k][j] = W[p·NR + j, k] (zero past cols).
inline index_t panels_size(index_t K, index_t cols) { return (cols + NR - 1) / NR * NR * K; }
inline void pack_panel_t(const float* W, index_t K, index_t cols, index_t p, float* packed) {
  float* dst = packed + p * K * NR;
  for (index_t k = 0; k < K; ++k)
    for (int j = 0; j < NR; ++j) {
      const index_t col = p * NR + j;
      dst[k * NR + j] = col < cols ? W[col * K + k] : 0.0f;
    }
}
// Panels of B = W for W (K, cols): packed[p][k][j] = W[k, p·NR + j] (zero past cols).
inline void pack_panel(const float* W, index_t K, index_t cols, index_t p, float* packed) {
  float* dst = packed + p * K * NR;
  for (index_t k = 0; k < K; ++k)
    for (int j = 0; j < NR; ++j) {
      const index_t col = p * NR + j;
      dst[k * NR + j] = col < cols ? W[k * cols + col] : 0.0f;
    }
}

// C[0:rows, 0:cols] (+)= A[0:rows, 0:K] · B, A packed by pack_all_rows, B in NR-column panels of K
// rows; ACC adds onto C. Loop order k-chunk → panel → row block: a KC×NR chunk of a B panel (32 KB)
// is read from L2 once per step and reused from L1 by every row block.
constexpr index_t KC = 256;
template <bool ACC>
inline void rows_gemm(index_t rows, index_t K, index_t cols, const float* ap, const float* bp, float* c,
                      index_t ldc) {
  for (index_t k0 = 0; k0 < K; k0 += KC) {
    const index_t kc = K - k0 < KC ? K - k0 : KC;
    for (index_t p = 0; p * NR < cols; ++p) {
      const int n = cols - p * NR < NR ? static_cast<int>(cols - p * NR) : NR;
      const float* b = bp + p * K * NR + k0 * NR;
      for (index_t rb = 0; rb < rows; rb += MR) {
        const int m = rows - rb < MR ? static_cast<int>(rows - rb) : MR;
        const float* a = ap + rb * K + k0 * MR;
        float* cp = c + rb * ldc + p * NR;
        tile<float, true>(kc, a, 0, b, cp, ldc, 1.0f, ACC || k0 > 0 ? 1.0f : 0.0f, m, n, Epilogue<float>{}, true);
      }
    }
  }
}

// The rows [r0, r1) of thread tid out of nt.
inline void row_range(index_t N, int nt, int tid, index_t& r0, index_t& r1) {
  const index_t per = (N + nt - 1) / nt;
  r0 = per * tid < N ? per * tid : N;
  r1 = r0 + per < N ? r0 + per : N;
}

// Room for the packed rows of one pool slot: every row (rounded up to MR; one slot may run every row
// block when the other threads are late) by K.
inline index_t apack_stride(index_t N, index_t K) { return (N + MR - 1) / MR * MR * K; }

}  // namespace rec
}  // namespace pyengine::cpu::PYENGINE_ISA
