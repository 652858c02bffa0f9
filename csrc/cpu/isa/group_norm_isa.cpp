// group_norm_isa.cpp — group normalisation forward/backward (see pyengine/group_norm.h), compiled
// once per ISA.
//
// Groups (M = (C/G)·S contiguous values each) go to threads when the array is large. A group's sums
// run on two vectors of T at a time over chunks of kChunk values; each chunk's sum is added to a
// double: float speed with double accuracy. The mean is x₀ + Σ(x − x₀)/M; the variance is Σ(x − hi)²
// with hi the mean rounded to T, corrected by M·lo² (lo = mean − hi), as layer_norm_isa.cpp does.
// The backward's per-(n, c) sums Σ g and Σ g·x̂ go to a workspace of the calling thread (each group
// writes its own slice); grad_weight and grad_bias add them over n in order afterwards.
#include <cmath>

#include "isa.h"
#include "pyengine/group_norm.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kChunk = 1024;
constexpr index_t kParallelWork = 16384;   // elements below which one thread does the whole call

int threads_for(index_t groups, index_t elems) {
  const int t = get_num_threads();
  return t > 1 && groups > 1 && elems > kParallelWork ? threads_for_items(groups) : 1;
}

// Over n values of one channel, in double by chunks: db = Σ g, dx = Σ g·x̂, a = Σ g·wc, c = Σ g·wc·x̂ with
// x̂ = (x − mu)·r — each product taken element by element, as the reference does, so that an Inf or a
// NaN in rstd or weight spreads exactly as it does there.
template <typename T>
inline void grad_sums(const T* g, const T* x, T mu, T r, T wc, index_t n, double sums[4]) {
  using vec = vec_t<T>;
  constexpr int L = lanes<T>;
  for (index_t s = 0; s < n; s += kChunk) {
    const index_t e = n - s < kChunk ? n : s + kChunk;
    vec vb = {}, vx = {}, va = {}, vc = {};
    index_t i = s;
    for (; i + L <= e; i += L) {
      const vec gv = load<T>(g + i), xh = (load<T>(x + i) - mu) * r, gw = gv * wc;
      vb += gv;
      vx += gv * xh;
      va += gw;
      vc += gw * xh;
    }
    double pb = 0.0, px = 0.0, pa = 0.0, pc = 0.0;
    for (; i < e; ++i) {
      const T xh = (x[i] - mu) * r, gw = g[i] * wc;
      pb += static_cast<double>(g[i]);
      px += static_cast<double>(g[i] * xh);
      pa += static_cast<double>(gw);
      pc += static_cast<double>(gw * xh);
    }
    sums[0] += pb + static_cast<double>(hsum<T>(vb));
    sums[1] += px + static_cast<double>(hsum<T>(vx));
    sums[2] += pa + static_cast<double>(hsum<T>(va));
    sums[3] += pc + static_cast<double>(hsum<T>(vc));
  }
}

// out = (g·wc − ma − x̂·mc)·r, x̂ = (x − mu)·r, over n values.
template <typename T>
inline void grad_input_row(const T* g, const T* x, T mu, T r, T wc, T ma, T mc, index_t n, T* out) {
  constexpr int L = lanes<T>;
  index_t i = 0;
  for (; i + L <= n; i += L) {
    const auto xh = (load<T>(x + i) - mu) * r;
    store<T>(out + i, (load<T>(g + i) * wc - ma - xh * mc) * r);
  }
  for (; i < n; ++i) out[i] = (g[i] * wc - ma - (x[i] - mu) * r * mc) * r;
}

template <typename T>
void forward(const GroupNormDims& d, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd) {
  constexpr int L = lanes<T>;
  const index_t Cg = d.C / d.G, M = Cg * d.S, groups = d.N * d.G;
  parallel_for(groups, threads_for(groups, groups * M), [&](index_t q) {
    const index_t g = q % d.G;
    const T* xg = x + q * M;
    T* yg = y + q * M;
    double mu = 0.0, var = 0.0;
    T hi = T(0), lo = T(0);
    if (M > 0) {
      const T x0 = xg[0];
      mu = static_cast<double>(x0) + chunked_sum<T>(xg, M, [x0](auto v) { return v - x0; }) / static_cast<double>(M);
      hi = static_cast<T>(mu);
      lo = static_cast<T>(mu - static_cast<double>(hi));
      double sq = chunked_sum<T>(xg, M, [hi](auto v) { return (v - hi) * (v - hi); });
      sq -= static_cast<double>(M) * static_cast<double>(lo) * static_cast<double>(lo);
      var = (sq < 0.0 ? 0.0 : sq) / static_cast<double>(M);   // NaN stays NaN
    }
    const double rs = 1.0 / std::sqrt(var + eps);
    mean[q] = static_cast<T>(mu);
    rstd[q] = static_cast<T>(rs);
    const T r = static_cast<T>(rs);
    for (index_t k = 0; k < Cg; ++k) {
      const index_t c = g * Cg + k;
      const T a = w ? r * w[c] : r, bc = b ? b[c] : T(0);
      const T* xr = xg + k * d.S;
      T* yr = yg + k * d.S;
      index_t i = 0;
      for (; i + L <= d.S; i += L) store<T>(yr + i, ((load<T>(xr + i) - hi) - lo) * a + bc);
      for (; i < d.S; ++i) yr[i] = ((xr[i] - hi) - lo) * a + bc;
    }
  });
}

template <typename T>
void backward(const GroupNormDims& d, const T* g, const T* x, const T* mean, const T* rstd, const T* w, T* gx,
              T* gw, T* gb) {
  const index_t Cg = d.C / d.G, M = Cg * d.S, groups = d.N * d.G;
  Workspace ws;
  double* part = workspace_take<double>(ws, 2 * (d.N * d.C > 0 ? d.N * d.C : 1));   // (Σ g, Σ g·x̂) per (n, c)
  if (part == nullptr) return;
  parallel_for(groups, threads_for(groups, groups * M), [&](index_t q) {
    const index_t n = q / d.G, grp = q % d.G;
    const T mu = mean[q], r = rstd[q];
    double a = 0.0, c = 0.0;
    for (index_t k = 0; k < Cg; ++k) {
      const index_t ch = grp * Cg + k, off = (n * d.C + ch) * d.S;
      double sums[4] = {0.0, 0.0, 0.0, 0.0};
      grad_sums<T>(g + off, x + off, mu, r, w ? w[ch] : T(1), d.S, sums);
      part[2 * (n * d.C + ch)] = sums[0];
      part[2 * (n * d.C + ch) + 1] = sums[1];
      a += sums[2];
      c += sums[3];
    }
    if (gx == nullptr || M == 0) return;
    const T ma = static_cast<T>(a / static_cast<double>(M)), mc = static_cast<T>(c / static_cast<double>(M));
    for (index_t k = 0; k < Cg; ++k) {
      const index_t ch = grp * Cg + k, off = (n * d.C + ch) * d.S;
      grad_input_row<T>(g + off, x + off, mu, r, w ? w[ch] : T(1), ma, mc, d.S, gx + off);
    }
  });
  if (gw == nullptr && gb == nullptr) return;
  for (index_t ch = 0; ch < d.C; ++ch) {   // over n in order: the same bits for any thread count
    double sw = 0.0, sb = 0.0;
    for (index_t n = 0; n < d.N; ++n) {
      sb += part[2 * (n * d.C + ch)];
      sw += part[2 * (n * d.C + ch) + 1];
    }
    if (gw) gw[ch] = static_cast<T>(sw);
    if (gb) gb[ch] = static_cast<T>(sb);
  }
}

void forward_f32(const GroupNormDims& d, const float* x, const float* w, const float* b, double eps, float* y,
                 float* m, float* r) {
  forward<float>(d, x, w, b, eps, y, m, r);
}
void forward_f64(const GroupNormDims& d, const double* x, const double* w, const double* b, double eps, double* y,
                 double* m, double* r) {
  forward<double>(d, x, w, b, eps, y, m, r);
}
void backward_f32(const GroupNormDims& d, const float* g, const float* x, const float* m, const float* r,
                  const float* w, float* gx, float* gw, float* gb) {
  backward<float>(d, g, x, m, r, w, gx, gw, gb);
}
void backward_f64(const GroupNormDims& d, const double* g, const double* x, const double* m, const double* r,
                  const double* w, double* gx, double* gw, double* gb) {
  backward<double>(d, g, x, m, r, w, gx, gw, gb);
}

}  // namespace

PE_ISA_REGISTER(group_norm_forward_f32, forward_f32)
PE_ISA_REGISTER(group_norm_forward_f64, forward_f64)
PE_ISA_REGISTER(group_norm_backward_f32, backward_f32)
PE_ISA_REGISTER(group_norm_backward_f64, backward_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
