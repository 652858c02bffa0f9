// gemm_isa.cpp — the packed, cache-blocked GEMM (see pyengine/gemm.h), compiled once per ISA.
//
// Loop nest (Goto/BLIS):  for jc (NC cols of C)  for pc (KC of K)  pack B block → Bp (shared)
//                           for ic (MC rows)  pack A block → Ap (per thread)
//                             for jr (NR panel)  for ir (MR panel)  micro-kernel MR×NR over kc
// The micro-kernel (gemm_kernel.h) keeps MR×NV accumulators of VL lanes in registers (NR = NV·VL)
// and does acc[i][v] += broadcast(A[i,k]) · B[k, v·VL:(v+1)·VL]. The vector type is GCC's vector
// extension, so the same source becomes AVX-512, AVX2 or SSE2 code depending on the flags of this
// copy.
// Partial tiles are zero-padded by the packing, computed whole, and stored partially.
#include <cstdlib>
#include <cstring>

#include "gemm_kernel.h"
#include "isa.h"
#include "pyengine/gemm.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

// Packs op(A)[ic:ic+mc, pc:pc+kc] into MR-row panels: panel p holds k-major MR values.
// Rows past mc are zero. Each branch reads A along its contiguous direction.
template <typename T>
void pack_a(bool trans, const T* A, index_t lda, index_t ic, index_t pc, index_t mc, index_t kc, T* Ap) {
  constexpr int MR = Blocking<T>::MR;
  for (index_t ip = 0; ip < mc; ip += MR) {
    const index_t rows = mc - ip < MR ? mc - ip : MR;
    T* dst = Ap + ip * kc;
    if (trans) {
      for (index_t k = 0; k < kc; ++k) {
        const T* src = A + (pc + k) * lda + ic + ip;
        for (index_t i = 0; i < rows; ++i) dst[k * MR + i] = src[i];
      }
    } else {
      for (index_t i = 0; i < rows; ++i) {
        const T* src = A + (ic + ip + i) * lda + pc;
        for (index_t k = 0; k < kc; ++k) dst[k * MR + i] = src[k];
      }
    }
    for (index_t i = rows; i < MR; ++i)
      for (index_t k = 0; k < kc; ++k) dst[k * MR + i] = T(0);
  }
}

// Packs op(B)[pc:pc+kc, col0:col0+cols] into one panel `width` columns wide (NR, or VL for a last
// panel of at most VL columns), zero-padded on the right.
template <typename T>
void pack_b_panel(bool trans, const T* B, index_t ldb, index_t pc, index_t kc, index_t col0,
                  index_t cols, int width, T* dst) {
  if (!trans) {
    for (index_t k = 0; k < kc; ++k) {
      T* d = dst + k * width;
      const T* src = B + (pc + k) * ldb + col0;
      for (index_t j = 0; j < cols; ++j) d[j] = src[j];
      for (index_t j = cols; j < width; ++j) d[j] = T(0);
    }
  } else {
    // Bᵀ stored N×K: walk each source row (one output column) contiguously.
    for (index_t j = 0; j < cols; ++j) {
      const T* src = B + (col0 + j) * ldb + pc;
      for (index_t k = 0; k < kc; ++k) dst[k * width + j] = src[k];
    }
    for (index_t k = 0; k < kc; ++k)
      for (index_t j = cols; j < width; ++j) dst[k * width + j] = T(0);
  }
}

template <typename T>
void scale_c(index_t M, index_t N, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Tuning knobs read once from the environment (PYENGINE_GEMM_KC/MC/NC/ORDER); 0 keeps the default.
// For experiments only (bench/NOTES.md): the defaults are the tuned values.
inline index_t knob(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : 0;
}

template <typename T>
void gemm_impl(bool ta, bool tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
               const T* B, index_t ldb, T beta, T* C, index_t ldc, const Epilogue<T>& epi) {
  using Bk = Blocking<T>;
  constexpr int MR = Bk::MR, NR = Bk::NR, VL = Bk::VL;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    if (epi.row_bias || epi.col_bias || epi.relu)
      for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) C[i * ldc + j] = epi.apply(C[i * ldc + j], i, j);
    return;
  }
  // Few rows, many columns, long K and B transposed (grad_w = gy·colsᵀ of convolution): packing
  // Bᵀ (a gather) would cost more than the multiply, which reuses each B element only M times.
  // Compute Cᵀ = B·Aᵀ instead: B is then read in place and only the M rows of A are packed.
  Workspace ws;
  if (tb && !ta && M <= 4 * MR && N >= 2 * M && K >= 256) {
    T* Ct = workspace_take<T>(ws, N * M);
    if (Ct) {
      gemm_impl<T>(false, true, N, M, K, alpha, B, ldb, A, lda, T(0), Ct, M, Epilogue<T>{});
      for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j)
          C[i * ldc + j] = epi.apply(beta == T(0) ? Ct[j * M + i] : Ct[j * M + i] + beta * C[i * ldc + j], i, j);
      return;
    }
  }
  static const index_t kc_knob = knob("PYENGINE_GEMM_KC"), mc_knob = knob("PYENGINE_GEMM_MC"),
                       nc_knob = knob("PYENGINE_GEMM_NC"), order_knob = knob("PYENGINE_GEMM_ORDER");
  const index_t KCB = kc_knob ? kc_knob : Bk::KC;
  const index_t MCB = mc_knob ? (mc_knob + MR - 1) / MR * MR : Bk::MC;
  const index_t NCB = nc_knob ? (nc_knob + NR - 1) / NR * NR : Bk::NC;
  const bool a_outer = order_knob != 2;

  int threads = 1;
#ifdef PYENGINE_OPENMP
  threads = get_num_threads();
  // Small problems do not pay for waking a second thread.
  if (static_cast<double>(M) * N * K < 64.0 * 64 * 64) threads = 1;
#endif
  // K blocks of equal size (no short last block that would run the micro-kernel at low efficiency).
  const index_t k_blocks = (K + KCB - 1) / KCB;
  const index_t kc_max = (K + k_blocks - 1) / k_blocks;
  const index_t nc_max = ((N < NCB ? N : NCB) + NR - 1) / NR * NR;
  // M blocks: equal sizes (multiples of MR), and a multiple of the thread count when there are
  // enough rows, so every thread gets the same work. Too few rows: threads split the N panels.
  index_t m_blocks = (M + MCB - 1) / MCB;
  index_t groups = 1;
  if (threads > 1) {
    const index_t np_all = ((N < NCB ? N : NCB) + NR - 1) / NR;
    const index_t tmr = static_cast<index_t>(threads) * MR;
    if (M >= 4 * tmr || (np_all < 2 * threads && M >= tmr))
      m_blocks = (m_blocks + threads - 1) / threads * threads;
    else
      groups = threads;
  }
  index_t mc_blk = ((M + m_blocks - 1) / m_blocks + MR - 1) / MR * MR;
  m_blocks = (M + mc_blk - 1) / mc_blk;
  T* Bp = workspace_take<T>(ws, kc_max * nc_max);
  T* Ap_all = workspace_take<T>(ws, static_cast<index_t>(threads) * kc_max * mc_blk);
  if (!Bp || !Ap_all) { scale_c(M, N, T(0) * beta, C, ldc); return; }  // out of memory: unreachable in practice

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int tid = 0;
#ifdef PYENGINE_OPENMP
    tid = omp_get_thread_num();
#endif
    T* Ap = Ap_all + static_cast<index_t>(tid) * kc_max * mc_blk;
    for (index_t jc = 0; jc < N; jc += NCB) {
      const index_t nc = N - jc < NCB ? N - jc : NCB;
      const index_t n_panels = (nc + NR - 1) / NR;
      const index_t g_count = groups < n_panels ? groups : n_panels;
      const index_t panels_per_group = (n_panels + g_count - 1) / g_count;
      for (index_t pc = 0; pc < K; pc += kc_max) {
        const index_t kc = K - pc < kc_max ? K - pc : kc_max;
        const T beta_block = pc == 0 ? beta : T(1);
        const bool last_k = pc + kc >= K;
#pragma omp for schedule(static)
        for (index_t p = 0; p < n_panels; ++p) {
          const index_t col0 = jc + p * NR;
          const index_t cols = nc - p * NR < NR ? nc - p * NR : NR;
          pack_b_panel(tb, B, ldb, pc, kc, col0, cols, cols <= VL ? VL : NR, Bp + p * NR * kc);
        }
        index_t packed_ic = -1;
        // A used by at most two B panels is read in place (full MR-row panels, A not transposed):
        // packing it would cost as much as the multiply (the M=6272, N=16 shape of convolution).
        const bool direct_a = !ta && panels_per_group <= 2;
#pragma omp for schedule(static)
        for (index_t item = 0; item < m_blocks * g_count; ++item) {
          const index_t ib = item / g_count, g = item % g_count;
          const index_t ic = ib * mc_blk;
          const index_t mc = M - ic < mc_blk ? M - ic : mc_blk;
          if (!direct_a && packed_ic != ic) { pack_a(ta, A, lda, ic, pc, mc, kc, Ap); packed_ic = ic; }
          const index_t p0 = g * panels_per_group;
          const index_t p_end = p0 + panels_per_group < n_panels ? p0 + panels_per_group : n_panels;
          // A micro-panel (MR×kc, ≤ 24 KB) stays in L1 while the B panels stream from L2/L3.
          for (index_t ir = 0; a_outer && ir < mc; ir += MR) {
            const int m = static_cast<int>(mc - ir < MR ? mc - ir : MR);
            const T* ap = Ap + ir * kc;
            const bool in_place = direct_a && m == MR;
            if (direct_a && !in_place) { pack_a(false, A, lda, ic + ir, pc, m, kc, Ap); ap = Ap; }
            for (index_t p = p0; p < p_end; ++p) {
              const index_t jr = p * NR;
              const int n = static_cast<int>(nc - jr < NR ? nc - jr : NR);
              T* cp = C + (ic + ir) * ldc + jc + jr;
              const Epilogue<T> e = last_k ? epi.at(ic + ir, jc + jr) : Epilogue<T>{};
              if (in_place)
                tile<T, false>(kc, A + (ic + ir) * lda + pc, lda, Bp + p * NR * kc, cp, ldc, alpha, beta_block, m, n, e);
              else
                tile<T, true>(kc, ap, 0, Bp + p * NR * kc, cp, ldc, alpha, beta_block, m, n, e);
            }
          }
          // (experiments only, PYENGINE_GEMM_ORDER=2) B micro-panel in L1, A panels from L2.
          if (!a_outer) {
            if (direct_a && packed_ic != ic) { pack_a(ta, A, lda, ic, pc, mc, kc, Ap); packed_ic = ic; }
            for (index_t p = p0; p < p_end; ++p) {
              const index_t jr = p * NR;
              const int n = static_cast<int>(nc - jr < NR ? nc - jr : NR);
              for (index_t ir = 0; ir < mc; ir += MR) {
                const int m = static_cast<int>(mc - ir < MR ? mc - ir : MR);
                tile<T, true>(kc, Ap + ir * kc, 0, Bp + p * NR * kc, C + (ic + ir) * ldc + jc + jr, ldc,
                              alpha, beta_block, m, n, last_k ? epi.at(ic + ir, jc + jr) : Epilogue<T>{});
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

void sgemm(bool ta, bool tb, index_t M, index_t N, index_t K, float alpha, const float* A, index_t lda,
           const float* B, index_t ldb, float beta, float* C, index_t ldc, const float* row_bias,
           const float* col_bias, bool relu) {
  gemm_impl<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, Epilogue<float>{row_bias, col_bias, relu});
}
void dgemm(bool ta, bool tb, index_t M, index_t N, index_t K, double alpha, const double* A, index_t lda,
           const double* B, index_t ldb, double beta, double* C, index_t ldc, const double* row_bias,
           const double* col_bias, bool relu) {
  gemm_impl<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, Epilogue<double>{row_bias, col_bias, relu});
}

PE_ISA_REGISTER(sgemm, sgemm)
PE_ISA_REGISTER(dgemm, dgemm)

}  // namespace pyengine::cpu::PYENGINE_ISA
