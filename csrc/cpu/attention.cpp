// attention.cpp — scaled dot-product attention of pyengine/attention.h on our GEMM and the per-ISA row
// passes: blocks of kAttnRows query rows (forward: blocks over threads; backward: key/value heads over
// threads, since a head's dk and dv sum over its group's blocks), the scores of one block in a per-thread
// workspace, never the whole (L, S) matrix.
#include <cstring>

#include "pyengine/attention.h"
#include "pyengine/gemm.h"
#include "pyengine/parallel.h"
#include "pyengine/workspace.h"

namespace pyengine::cpu {
namespace {

inline void softmax_rows(index_t r, index_t c, index_t ld, float* s, float sc, const float* m, index_t mld, index_t r0,
                         float* lse) {
  attention_softmax_f32(r, c, ld, s, sc, m, mld, r0, lse);
}
inline void softmax_rows(index_t r, index_t c, index_t ld, double* s, double sc, const double* m, index_t mld,
                         index_t r0, double* lse) {
  attention_softmax_f64(r, c, ld, s, sc, m, mld, r0, lse);
}
inline void probs_rows(index_t r, index_t c, index_t ld, float* s, float sc, const float* m, index_t mld, index_t r0,
                       const float* lse) {
  attention_probs_f32(r, c, ld, s, sc, m, mld, r0, lse);
}
inline void probs_rows(index_t r, index_t c, index_t ld, double* s, double sc, const double* m, index_t mld,
                       index_t r0, const double* lse) {
  attention_probs_f64(r, c, ld, s, sc, m, mld, r0, lse);
}
inline void grad_rows(index_t r, index_t c, index_t ld, const float* p, float* ds, const float* D, float sc) {
  attention_grad_f32(r, c, ld, p, ds, D, sc);
}
inline void grad_rows(index_t r, index_t c, index_t ld, const double* p, double* ds, const double* D, double sc) {
  attention_grad_f64(r, c, ld, p, ds, D, sc);
}

// One block of query rows [i0, i1) of query head h (key/value head kvh) of batch b, and where its
// operands are.
template <typename T>
struct Block {
  index_t b, h, kvh, i0, rows, cols;
  const T *q, *k, *v, *mask;
  index_t row0;   // the causal bound's offset, −1 without
};

template <typename T>
Block<T> block_of(const AttentionDims& d, const T* q, const T* k, const T* v, const T* mask, index_t b, index_t h,
                  index_t blk) {
  const index_t G = d.H / d.Hk, kvh = h / G, i0 = blk * kAttnRows;
  const index_t i1 = i0 + kAttnRows < d.L ? i0 + kAttnRows : d.L;
  Block<T> x{b, h, kvh, i0, i1 - i0, d.causal ? (i1 < d.S ? i1 : d.S) : d.S, nullptr, nullptr, nullptr, nullptr,
             d.causal ? i0 : -1};
  x.q = q + ((b * d.H + h) * d.L + i0) * d.E;
  x.k = k + (b * d.Hk + kvh) * d.S * d.E;
  x.v = v + (b * d.Hk + kvh) * d.S * d.Ev;
  if (mask != nullptr)
    x.mask = mask + (((d.MB == 1 ? 0 : b) * d.MH + (d.MH == 1 ? 0 : h)) * d.L + i0) * d.S;
  return x;
}

int threads_for(index_t items, double flops) {
  const int t = get_num_threads();
  return t > 1 && items > 1 && flops > 2e5 ? t : 1;
}

}  // namespace

template <typename T>
void attention_forward(const AttentionDims& d, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse) {
  const index_t nblk = (d.L + kAttnRows - 1) / kAttnRows, items = d.B * d.H * nblk;
  const T scale = static_cast<T>(d.scale);
  const double flops = 2.0 * static_cast<double>(d.B * d.H) * d.L * d.S * (d.E + d.Ev);
  parallel_for(items, threads_for(items, flops), [&](index_t it) {
    const index_t blk = it % nblk, h = (it / nblk) % d.H, b = it / (nblk * d.H);
    const Block<T> x = block_of(d, q, k, v, mask, b, h, blk);
    T* o = out + ((b * d.H + h) * d.L + x.i0) * d.Ev;
    T* l = lse + (b * d.H + h) * d.L + x.i0;
    Workspace ws;
    T* s = workspace_take<T>(ws, x.rows * (x.cols > 0 ? x.cols : 1));
    if (s == nullptr) return;
    // s = q·kᵀ (rows × cols), then P in place, then out = P·v
    gemm<T>(false, true, x.rows, x.cols, d.E, T(1), x.q, d.E, x.k, d.E, T(0), s, x.cols);
    softmax_rows(x.rows, x.cols, x.cols, s, scale, x.mask, d.S, x.row0, l);
    gemm<T>(false, false, x.rows, d.Ev, x.cols, T(1), s, x.cols, x.v, d.Ev, T(0), o, d.Ev);
  });
}

template <typename T>
void attention_backward(const AttentionDims& d, const T* g, const T* q, const T* k, const T* v, const T* out,
                        const T* lse, const T* mask, T* dq, T* dk, T* dv) {
  const index_t nblk = (d.L + kAttnRows - 1) / kAttnRows, G = d.H / d.Hk, items = d.B * d.Hk;
  const T scale = static_cast<T>(d.scale);
  const double flops = 4.0 * static_cast<double>(d.B * d.H) * d.L * d.S * (d.E + d.Ev);
  parallel_for(items, threads_for(items, flops), [&](index_t it) {
    const index_t b = it / d.Hk, kvh = it % d.Hk;
    T* dkh = dk != nullptr ? dk + (b * d.Hk + kvh) * d.S * d.E : nullptr;
    T* dvh = dv != nullptr ? dv + (b * d.Hk + kvh) * d.S * d.Ev : nullptr;
    if (dkh != nullptr) std::memset(dkh, 0, sizeof(T) * static_cast<size_t>(d.S * d.E));
    if (dvh != nullptr) std::memset(dvh, 0, sizeof(T) * static_cast<size_t>(d.S * d.Ev));
    Workspace ws;
    T* p = workspace_take<T>(ws, kAttnRows * (d.S > 0 ? d.S : 1));
    T* dp = workspace_take<T>(ws, kAttnRows * (d.S > 0 ? d.S : 1));
    T* D = workspace_take<T>(ws, kAttnRows);
    if (p == nullptr || dp == nullptr || D == nullptr) return;
    for (index_t h = kvh * G; h < (kvh + 1) * G; ++h)
      for (index_t blk = 0; blk < nblk; ++blk) {
        const Block<T> x = block_of(d, q, k, v, mask, b, h, blk);
        const index_t row = (b * d.H + h) * d.L + x.i0;
        const T* gb = g + row * d.Ev;
        const T* l = lse + row;
        // P, recomputed from the saved lse
        gemm<T>(false, true, x.rows, x.cols, d.E, T(1), x.q, d.E, x.k, d.E, T(0), p, x.cols);
        probs_rows(x.rows, x.cols, x.cols, p, scale, x.mask, d.S, x.row0, l);
        if (dvh != nullptr)   // dv[:cols] += Pᵀ·g
          gemm<T>(true, false, x.cols, d.Ev, x.rows, T(1), p, x.cols, gb, d.Ev, T(1), dvh, d.Ev);
        if (dq == nullptr && dkh == nullptr) continue;
        // dP = g·vᵀ, D = Σ g∘out per row (0 for a fully masked row, whose out is NaN), dS in place of dP
        gemm<T>(false, true, x.rows, x.cols, d.Ev, T(1), gb, d.Ev, x.v, d.Ev, T(0), dp, x.cols);
        const T* ob = out + row * d.Ev;
        for (index_t r = 0; r < x.rows; ++r) {
          T acc = T(0);
          if (l[r] > -__builtin_inf())
            for (index_t e = 0; e < d.Ev; ++e) acc += gb[r * d.Ev + e] * ob[r * d.Ev + e];
          D[r] = acc;
        }
        grad_rows(x.rows, x.cols, x.cols, p, dp, D, scale);
        if (dq != nullptr)    // dq = dS·k
          gemm<T>(false, false, x.rows, d.E, x.cols, T(1), dp, x.cols, x.k, d.E, T(0), dq + row * d.E, d.E);
        if (dkh != nullptr)   // dk[:cols] += dSᵀ·q
          gemm<T>(true, false, x.cols, d.E, x.rows, T(1), dp, x.cols, x.q, d.E, T(1), dkh, d.E);
      }
  });
}

template void attention_forward<float>(const AttentionDims&, const float*, const float*, const float*, const float*,
                                       float*, float*);
template void attention_forward<double>(const AttentionDims&, const double*, const double*, const double*,
                                        const double*, double*, double*);
template void attention_backward<float>(const AttentionDims&, const float*, const float*, const float*, const float*,
                                        const float*, const float*, const float*, float*, float*, float*);
template void attention_backward<double>(const AttentionDims&, const double*, const double*, const double*,
                                         const double*, const double*, const double*, const double*, double*, double*,
                                         double*);

}  // namespace pyengine::cpu
