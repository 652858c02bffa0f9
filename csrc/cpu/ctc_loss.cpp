// ctc_loss.cpp — the CTC forward-backward recursions of pyengine/ctc_loss.h, samples over threads.
//
// Per sample: the extended labels l' and the skip flags (may s be reached from s − 2) in a scratch
// block, α row by row straight into log_alpha, nll from its last row. The backward runs β into a
// per-thread (T_n, 2L + 1) scratch and, per time step, gathers the lse of α + β of each class into a
// C-long row before one pass over the classes writes the gradient. Scalar code: the recursion's
// dependence from t − 1 to t and the three-way lse per element leave little for vectors, and the work
// per sample, O(T·(L + C)), is small next to the log_softmax that feeds it.
#include <cmath>
#include <cstring>
#include <limits>

#include "pyengine/ctc_loss.h"
#include "pyengine/parallel.h"
#include "pyengine/workspace.h"

namespace pyengine::cpu {
namespace {

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// log(exp(a) + exp(b)), −inf when both are. IEEE as the reference: a NaN term gives NaN (the
// ternary max alone would drop it, and with a −inf partner return −inf), a +inf term +inf.
template <typename T>
inline T lse2(T a, T b) {
  if (a != a || b != b) return a + b;
  const T m = a > b ? a : b;
  if (m == kNegInf<T> || m == -kNegInf<T>) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

template <typename T>
inline T lse3(T a, T b, T c) {
  if (a != a || b != b || c != c) return a + b + c;
  T m = a > b ? a : b;
  m = m > c ? m : c;
  if (m == kNegInf<T> || m == -kNegInf<T>) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m));
}

// The extended labels of sample n into ext (2L + 1) and skip (may s come from s − 2).
inline void extend(const CtcDims& d, const std::int64_t* tg, index_t L, std::int64_t* ext, unsigned char* skip) {
  for (index_t s = 0; s < 2 * L + 1; ++s) {
    ext[s] = (s & 1) ? tg[s / 2] : d.blank;
    skip[s] = s >= 2 && (s & 1) && ext[s] != ext[s - 2];
  }
}

int threads_for(const CtcDims& d) {
  const int t = get_num_threads();
  // below a few thousand recursion steps in all, waking the pool costs more than it gains
  return t > 1 && d.N > 1 && d.T * d.SP * d.N > 4096 ? t : 1;
}

// The raw nll of one sample from its α (T_n, L as in the header).
template <typename T>
inline T nll_of(const T* alpha, index_t SP, index_t Tn, index_t L) {
  if (Tn == 0) return L == 0 ? T(0) : std::numeric_limits<T>::infinity();
  const T* last = alpha + (Tn - 1) * SP;
  return -(L > 0 ? lse2(last[2 * L], last[2 * L - 1]) : last[0]);
}

}  // namespace

template <typename T>
void ctc_loss_forward(const CtcDims& d, const T* lp, const std::int64_t* targets, const index_t* offset,
                      const std::int64_t* input_lengths, const std::int64_t* target_lengths, bool zero_infinity,
                      T* nll, T* log_alpha) {
  const index_t NC = d.N * d.C;
  parallel_for(d.N, threads_for(d), [&](index_t n) {
    const index_t Tn = input_lengths[n], L = target_lengths[n], S = 2 * L + 1;
    T* alpha = log_alpha + n * d.T * d.SP;
    for (index_t i = 0; i < d.T * d.SP; ++i) alpha[i] = kNegInf<T>;
    Workspace ws;
    std::int64_t* ext = workspace_take<std::int64_t>(ws, S);
    unsigned char* skip = workspace_take<unsigned char>(ws, S);
    if (ext == nullptr || skip == nullptr) return;
    extend(d, targets + offset[n], L, ext, skip);
    if (Tn > 0) {
      const T* p = lp + n * d.C;
      alpha[0] = p[d.blank];
      if (S > 1) alpha[1] = p[ext[1]];
    }
    for (index_t t = 1; t < Tn; ++t) {
      const T* p = lp + t * NC + n * d.C;
      const T* a = alpha + (t - 1) * d.SP;
      T* cur = alpha + t * d.SP;
      // Every state, the unreachable ones (s > 2t + 1) too: their lse of −inf terms returns at once,
      // and log_alpha then holds what the reference's does there (−inf, or NaN where log_probs is).
      cur[0] = p[ext[0]] + a[0];
      for (index_t s = 1; s < S; ++s) {
        const T prev = skip[s] ? lse3(a[s], a[s - 1], a[s - 2]) : lse2(a[s], a[s - 1]);
        cur[s] = p[ext[s]] + prev;
      }
    }
    T v = nll_of(alpha, d.SP, Tn, L);
    if (zero_infinity && std::isinf(v)) v = T(0);
    nll[n] = v;
  });
}

template <typename T>
void ctc_loss_backward(const CtcDims& d, const T* g, const T* lp, const std::int64_t* targets, const index_t* offset,
                       const std::int64_t* input_lengths, const std::int64_t* target_lengths, const T* log_alpha,
                       T* grad) {
  const index_t NC = d.N * d.C;
  parallel_for(d.N, threads_for(d), [&](index_t n) {
    const index_t Tn = input_lengths[n], L = target_lengths[n], S = 2 * L + 1;
    const T* alpha = log_alpha + n * d.T * d.SP;
    const T nll = nll_of(alpha, d.SP, Tn, L);
    for (index_t t = 0; t < d.T; ++t) std::memset(grad + t * NC + n * d.C, 0, sizeof(T) * static_cast<size_t>(d.C));
    if (!std::isfinite(nll) || Tn == 0) return;
    Workspace ws;
    std::int64_t* ext = workspace_take<std::int64_t>(ws, S);
    unsigned char* skip = workspace_take<unsigned char>(ws, S + 2);
    T* beta = workspace_take<T>(ws, Tn * S);
    T* occ = workspace_take<T>(ws, d.C);
    if (ext == nullptr || skip == nullptr || beta == nullptr || occ == nullptr) return;
    extend(d, targets + offset[n], L, ext, skip);
    skip[S] = skip[S + 1] = 0;
    for (index_t i = 0; i < Tn * S; ++i) beta[i] = kNegInf<T>;
    {
      const T* p = lp + (Tn - 1) * NC + n * d.C;
      T* b = beta + (Tn - 1) * S;
      b[S - 1] = p[ext[S - 1]];
      if (S > 1) b[S - 2] = p[ext[S - 2]];
    }
    for (index_t t = Tn - 2; t >= 0; --t) {
      const T* p = lp + t * NC + n * d.C;
      const T* b = beta + (t + 1) * S;
      T* cur = beta + t * S;
      // the mirror of the forward's bound: from s, the end is reachable only if s ≥ S − 2(Tn − t)
      const index_t lo = S - 2 * (Tn - t) > 0 ? S - 2 * (Tn - t) : 0;
      for (index_t s = lo; s < S; ++s) {
        const T x1 = s + 1 < S ? b[s + 1] : kNegInf<T>;
        const T next = skip[s + 2] ? lse3(b[s], x1, b[s + 2]) : lse2(b[s], x1);
        cur[s] = next == kNegInf<T> ? kNegInf<T> : p[ext[s]] + next;
      }
    }
    const T gn = g[n];
    for (index_t t = 0; t < Tn; ++t) {
      for (index_t c = 0; c < d.C; ++c) occ[c] = kNegInf<T>;
      const T* a = alpha + t * d.SP;
      const T* b = beta + t * S;
      for (index_t s = 0; s < S; ++s) {
        const T ab = a[s] + b[s];
        if (ab != kNegInf<T>) occ[ext[s]] = lse2(occ[ext[s]], ab);
      }
      const T* p = lp + t * NC + n * d.C;
      T* gr = grad + t * NC + n * d.C;
      for (index_t c = 0; c < d.C; ++c)
        if (occ[c] != kNegInf<T>) gr[c] = -gn * std::exp(occ[c] - p[c] + nll);
    }
  });
}

template void ctc_loss_forward<float>(const CtcDims&, const float*, const std::int64_t*, const index_t*,
                                      const std::int64_t*, const std::int64_t*, bool, float*, float*);
template void ctc_loss_forward<double>(const CtcDims&, const double*, const std::int64_t*, const index_t*,
                                       const std::int64_t*, const std::int64_t*, bool, double*, double*);
template void ctc_loss_backward<float>(const CtcDims&, const float*, const float*, const std::int64_t*,
                                       const index_t*, const std::int64_t*, const std::int64_t*, const float*,
                                       float*);
template void ctc_loss_backward<double>(const CtcDims&, const double*, const double*, const std::int64_t*,
                                        const index_t*, const std::int64_t*, const std::int64_t*, const double*,
                                        double*);

}  // namespace pyengine::cpu
