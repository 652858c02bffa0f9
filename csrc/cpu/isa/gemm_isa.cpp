// gemm_isa.cpp — the packed, cache-blocked GEMM (see pyengine/gemm.h), compiled once per ISA.
//
// Loop nest (Goto/BLIS):  for jc (NC cols of C)  for pc (KC of K)  B block → Bp (shared)
//                           for ic (MC rows, one work item)  pack A block → Ap (per thread)
//                             for ir (MR panel)  for jr (NR panel)  micro-kernel MR×NR over kc
// The micro-kernel (gemm_kernel.h) keeps MR×NV accumulators of VL lanes in registers (NR = NV·VL)
// and does acc[i][v] += broadcast(A[i,k]) · B[k, v·VL:(v+1)·VL]. The vector type is GCC's vector
// extension, so the same source becomes AVX-512, AVX2 or SSE2 code depending on the flags of this
// copy. With several threads, the B block after the current one is packed by the same
// parallel_for as the current block's tiles (double-buffered Bp), so a block costs one join.
// Partial tiles are zero-padded by the packing, computed whole, and stored partially.
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "gemm_kernel.h"
#include "isa.h"
#include "pyengine/gemm.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

// GCC 12 reports its own _mm512_undefined_ps (inside the unpack intrinsics) as maybe uninitialised.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Packs op(A)[ic:ic+mc, pc:pc+kc] into MR-row panels: panel p holds k-major MR values.
// Rows past mc are zero. Each branch reads A along its contiguous direction; a full panel of a
// non-transposed float A is transposed 16 columns at a time in registers (AVX-512), since one
// scalar store per element was a tenth of a 1024³ call.
template <typename T>
void pack_a(bool trans, const T* A, index_t lda, index_t ic, index_t pc, index_t mc, index_t kc, T* Ap) {
  constexpr int MR = Blocking<T>::MR;
  for (index_t ip = 0; ip < mc; ip += MR) {
    const index_t rows = mc - ip < MR ? mc - ip : MR;
    T* dst = Ap + ip * kc;
    if (trans) {
      const T* src = A + pc * lda + ic + ip;
      if (rows == MR)
        for (index_t k = 0; k < kc; ++k) std::memcpy(dst + k * MR, src + k * lda, sizeof(T) * MR);
      else
        for (index_t k = 0; k < kc; ++k)
          for (index_t i = 0; i < rows; ++i) dst[k * MR + i] = src[k * lda + i];
    } else {
      index_t k0 = 0;
#if defined(__AVX512F__)
      if constexpr (sizeof(T) == 4 && MR <= 16) {
        if (rows == MR) {
          const float* src = reinterpret_cast<const float*>(A + (ic + ip) * lda + pc);
          float* d = reinterpret_cast<float*>(dst);
          for (; k0 + 16 <= kc; k0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; ++i) r[i] = i < MR ? _mm512_loadu_ps(src + i * lda + k0) : _mm512_setzero_ps();
            transpose16(r);
            // Row l of the transpose is A[0:16, k0 + l]; its first MR lanes are the panel's column.
            for (int l = 0; l < 16; ++l) _mm512_mask_storeu_ps(d + (k0 + l) * MR, (1u << MR) - 1, r[l]);
          }
        }
      }
#endif
      for (index_t i = 0; i < rows; ++i) {
        const T* src = A + (ic + ip + i) * lda + pc;
        for (index_t k = k0; k < kc; ++k) dst[k * MR + i] = src[k];
      }
    }
    for (index_t i = rows; i < MR; ++i)
      for (index_t k = 0; k < kc; ++k) dst[k * MR + i] = T(0);
  }
}

// Packs op(B)[pc:pc+kc, col0:col0+cols] of a transposed B (stored N×K) into one panel `width`
// columns wide (NR, or VL for a last panel of at most VL columns), zero-padded on the right.
template <typename T>
void pack_bt_panel(const T* B, index_t ldb, index_t pc, index_t kc, index_t col0, index_t cols, int width, T* dst) {
  // Walk each source row (one output column) contiguously.
  index_t j0 = 0;
#if defined(__AVX512F__)
  // Whole groups of 16 columns: 16×16 blocks transposed in registers.
  if constexpr (sizeof(T) == 4) {
    float* d = reinterpret_cast<float*>(dst);
    for (; j0 + 16 <= cols; j0 += 16) {
      const float* src = reinterpret_cast<const float*>(B + (col0 + j0) * ldb + pc);
      index_t k = 0;
      for (; k + 16 <= kc; k += 16) {
        __m512 r[16];
        for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(src + j * ldb + k);
        transpose16(r);
        for (int l = 0; l < 16; ++l) _mm512_storeu_ps(d + (k + l) * width + j0, r[l]);
      }
      for (; k < kc; ++k)
        for (int j = 0; j < 16; ++j) d[k * width + j0 + j] = src[j * ldb + k];
    }
  }
#endif
  for (index_t j = j0; j < cols; ++j) {
    const T* src = B + (col0 + j) * ldb + pc;
    for (index_t k = 0; k < kc; ++k) dst[k * width + j] = src[k];
  }
  for (index_t k = 0; k < kc; ++k)
    for (index_t j = cols; j < width; ++j) dst[k * width + j] = T(0);
}

#pragma GCC diagnostic pop

// Packs panels [p0, p1) of op(B)[pc:pc+kc, jc:jc+nc] into Bp (panel p at Bp + p·NR·kc, NR wide, or
// VL wide when it has at most VL columns). B not transposed is copied k row by k row across the
// panels: each source row is then read as one run of up to (p1 − p0)·NR floats, not as NR-float
// pieces ldb apart (which, for the long rows of an im2col matrix, touch a new page per piece), with
// whole-vector loads and stores (the per-element copy was 4 % of a 1024³ call).
template <typename T>
void pack_b_group(bool trans, const T* B, index_t ldb, index_t pc, index_t kc, index_t jc, index_t nc,
                  index_t p0, index_t p1, T* Bp) {
  constexpr int NR = Blocking<T>::NR, VL = Blocking<T>::VL, NV = NR / VL;
  if (trans) {
    for (index_t p = p0; p < p1; ++p) {
      const index_t cols = nc - p * NR < NR ? nc - p * NR : NR;
      pack_bt_panel(B, ldb, pc, kc, jc + p * NR, cols, cols <= VL ? VL : NR, Bp + p * NR * kc);
    }
    return;
  }
  // Only the last panel of the block can be narrower than NR.
  const index_t full_end = nc / NR < p1 ? nc / NR : p1;
  for (index_t k = 0; k < kc; ++k) {
    const T* src = B + (pc + k) * ldb + jc;
    for (index_t p = p0; p < full_end; ++p) {
      T* d = Bp + p * NR * kc + k * NR;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) store<T>(d + v * VL, load<T>(src + p * NR + v * VL));
    }
    if (full_end < p1) {
      const index_t p = full_end, cols = nc - p * NR;
      const int width = cols <= VL ? VL : NR;
      T* d = Bp + p * NR * kc + k * width;
      for (int v = 0; v * VL < width; ++v) {
        const index_t left = cols - v * VL;
        store<T>(d + v * VL, left >= VL ? load<T>(src + p * NR + v * VL)
                                        : load_part<T>(src + p * NR + v * VL, left > 0 ? left : 0, T(0)));
      }
    }
  }
}

template <typename T>
void scale_c(index_t M, index_t N, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Tuning knobs read once from the environment (PYENGINE_GEMM_KC/MC/NC/ORDER); 0 keeps the default.
// C = alpha · A·Bᵀ + beta · C for one or two rows of A (batch-1 inference, an LSTM cell step):
// each C element is a dot product of two contiguous rows, so packing Bᵀ (a gather of all of B)
// would cost more than the multiply, which uses each B element M times. Four columns at a time
// share each load of A and give four independent accumulator chains.
template <typename T>
void gemm_rows_bt(index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
                  index_t ldb, T beta, T* C, index_t ldc, const Epilogue<T>& epi) {
  using vec = vec_t<T>;
  constexpr index_t L = Vec<T>::lanes;
  const index_t kv = K / L * L, rest = K - kv;
  auto put = [&](index_t i, index_t j, T dot) {
    const T r = alpha * dot;
    C[i * ldc + j] = epi.apply(beta == T(0) ? r : r + beta * C[i * ldc + j], i, j);
  };
  for (index_t i = 0; i < M; ++i) {
    const T* a = A + i * lda;
    index_t j = 0;
    for (; j + 4 <= N; j += 4) {
      const T *b0 = B + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      vec s0{}, s1{}, s2{}, s3{};
      for (index_t k = 0; k < kv; k += L) {
        const vec x = load<T>(a + k);
        s0 += x * load<T>(b0 + k);
        s1 += x * load<T>(b1 + k);
        s2 += x * load<T>(b2 + k);
        s3 += x * load<T>(b3 + k);
      }
      if (rest) {
        const vec x = load_part<T>(a + kv, rest, T(0));
        s0 += x * load_part<T>(b0 + kv, rest, T(0));
        s1 += x * load_part<T>(b1 + kv, rest, T(0));
        s2 += x * load_part<T>(b2 + kv, rest, T(0));
        s3 += x * load_part<T>(b3 + kv, rest, T(0));
      }
      put(i, j, hsum<T>(s0));
      put(i, j + 1, hsum<T>(s1));
      put(i, j + 2, hsum<T>(s2));
      put(i, j + 3, hsum<T>(s3));
    }
    for (; j < N; ++j) {
      const T* b = B + j * ldb;
      vec s{};
      for (index_t k = 0; k < kv; k += L) s += load<T>(a + k) * load<T>(b + k);
      if (rest) s += load_part<T>(a + kv, rest, T(0)) * load_part<T>(b + kv, rest, T(0));
      put(i, j, hsum<T>(s));
    }
  }
}

// For experiments only (bench/NOTES.md): the defaults are the tuned values.
inline index_t knob(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : 0;
}

template <typename T>
void gemm_impl(bool ta, bool tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
               const T* B, index_t ldb, T beta, T* C, index_t ldc, const Epilogue<T>& epi) {
  using Bk = Blocking<T>;
  constexpr int MR = Bk::MR, NR = Bk::NR;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    if (epi.row_bias || epi.col_bias || epi.relu)
      for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) C[i * ldc + j] = epi.apply(C[i * ldc + j], i, j);
    return;
  }
  // One or two rows and B transposed, small enough to stay on one thread: dot products in place.
  if (tb && !ta && M <= 2 && static_cast<double>(N) * K <= 512.0 * 512) {
    gemm_rows_bt<T>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epi);
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

  int threads = get_num_threads();
  // Small problems do not pay for a second thread: up to 128³ multiply-adds (≈ 20 µs on one Zen 5
  // core) the serial B packing, the hand-over and the B panels the other core must fetch from L3 ate
  // the gain (quiet run of 1 Dec: 128³ at 2 threads 26 µs median against 23 µs at 1).
  if (static_cast<double>(M) * N * K <= 128.0 * 128 * 128) threads = 1;
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
  // The (jc, pc) blocks in order; block b covers columns jc = (b / k_steps)·NCB and K rows
  // pc = (b % k_steps)·kc_max. With several threads and several blocks, the B block b + 1 is packed
  // inside block b's parallel_for (its packing chunks queued after the compute chunks, so a thread
  // that runs out of tiles packs), into the other of two buffers: one join per block instead of two,
  // and the packing fills the tail where one thread would otherwise wait for the other's last tile.
  const index_t k_steps = (K + kc_max - 1) / kc_max, n_jc = (N + NCB - 1) / NCB;
  const index_t n_blocks = k_steps * n_jc;
  const bool overlap = threads > 1 && n_blocks > 1;
  // B panels per packing chunk: up to 8 (long source rows read in runs of up to 8·NR), fewer when
  // that would leave a thread without a chunk of a small block (256³: 8 panels, one chunk).
  auto b_group = [&](index_t n_panels) {
    const index_t g = (n_panels + 2 * threads - 1) / (2 * threads);
    return g < 1 ? index_t(1) : g > 8 ? index_t(8) : g;
  };
  struct Block {
    index_t jc, nc, pc, kc, n_panels;
  };
  auto block = [&](index_t b) {
    Block k;
    k.jc = b / k_steps * NCB;
    k.nc = N - k.jc < NCB ? N - k.jc : NCB;
    k.pc = b % k_steps * kc_max;
    k.kc = K - k.pc < kc_max ? K - k.pc : kc_max;
    k.n_panels = (k.nc + NR - 1) / NR;
    return k;
  };
  T* Bp = workspace_take<T>(ws, kc_max * nc_max);
  T* Bp_next = overlap ? workspace_take<T>(ws, kc_max * nc_max) : nullptr;
  T* Ap_all = workspace_take<T>(ws, static_cast<index_t>(threads) * kc_max * mc_blk);
  if (!Bp || !Ap_all || (overlap && !Bp_next)) { scale_c(M, N, T(0) * beta, C, ldc); return; }  // out of memory: unreachable in practice

  // One entry per pool slot: the M block whose A this slot packed last in this K block.
  std::vector<index_t> packed_ic(static_cast<size_t>(threads));
  {
    const Block k0 = block(0);
    const index_t bg = b_group(k0.n_panels);
    parallel_for((k0.n_panels + bg - 1) / bg, threads, [&](index_t grp) {
      const index_t p0 = grp * bg, p1 = p0 + bg < k0.n_panels ? p0 + bg : k0.n_panels;
      pack_b_group(tb, B, ldb, k0.pc, k0.kc, k0.jc, k0.nc, p0, p1, Bp);
    });
  }
  for (index_t b = 0; b < n_blocks; ++b) {
    const Block cur = block(b);
    const index_t jc = cur.jc, nc = cur.nc, pc = cur.pc, kc = cur.kc, n_panels = cur.n_panels;
    const index_t g_count = groups < n_panels ? groups : n_panels;
    const index_t panels_per_group = (n_panels + g_count - 1) / g_count;
    const T beta_block = pc == 0 ? beta : T(1);
    const bool last_k = pc + kc >= K;
    if (b > 0 && !overlap) {   // one thread, or one block: pack here
      const index_t bg = b_group(n_panels);
      parallel_for((n_panels + bg - 1) / bg, threads, [&](index_t grp) {
        const index_t p0 = grp * bg, p1 = p0 + bg < n_panels ? p0 + bg : n_panels;
        pack_b_group(tb, B, ldb, pc, kc, jc, nc, p0, p1, Bp);
      });
    }
    const Block nxt = overlap && b + 1 < n_blocks ? block(b + 1) : Block{0, 0, 0, 0, 0};
    const index_t compute_items = m_blocks * g_count;
    const index_t nbg = b_group(nxt.n_panels);
    const index_t pack_items = (nxt.n_panels + nbg - 1) / nbg;
    for (index_t& v : packed_ic) v = -1;
    // A used by at most two B panels is read in place (full MR-row panels, A not transposed):
    // packing it would cost as much as the multiply (the M=6272, N=16 shape of convolution).
    const bool direct_a = !ta && panels_per_group <= 2;
    parallel_for_slots(compute_items + pack_items, threads, [&](index_t item, int slot) {
      if (item >= compute_items) {
        const index_t p0 = (item - compute_items) * nbg;
        const index_t p1 = p0 + nbg < nxt.n_panels ? p0 + nbg : nxt.n_panels;
        pack_b_group(tb, B, ldb, nxt.pc, nxt.kc, nxt.jc, nxt.nc, p0, p1, Bp_next);
        return;
      }
      T* Ap = Ap_all + static_cast<index_t>(slot) * kc_max * mc_blk;
      index_t& packed = packed_ic[static_cast<size_t>(slot)];
      const index_t ib = item / g_count, g = item % g_count;
      const index_t ic = ib * mc_blk;
      const index_t mc = M - ic < mc_blk ? M - ic : mc_blk;
      if (!direct_a && packed != ic) { pack_a(ta, A, lda, ic, pc, mc, kc, Ap); packed = ic; }
      const index_t p0 = g * panels_per_group;
      const index_t p_end = p0 + panels_per_group < n_panels ? p0 + panels_per_group : n_panels;
      // A micro-panel (MR×kc, ≤ 24 KB) stays in L1 while the B panels stream from L2/L3.
      for (index_t ir = 0; a_outer && ir < mc; ir += MR) {
        const int m = static_cast<int>(mc - ir < MR ? mc - ir : MR);
        const T* ap = Ap + ir * kc;
        const bool in_place = direct_a && m == MR;
        if (direct_a && !in_place) { pack_a(false, A, lda, ic + ir, pc, m, kc, Ap); ap = Ap; packed = -1; }
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
        if (direct_a && packed != ic) { pack_a(ta, A, lda, ic, pc, mc, kc, Ap); packed = ic; }
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
    });
    if (overlap) {
      T* t = Bp;
      Bp = Bp_next;
      Bp_next = t;
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
