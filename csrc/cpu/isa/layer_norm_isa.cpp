// layer_norm_isa.cpp — layer normalisation forward/backward (see pyengine/layer_norm.h), compiled
// once per ISA.
//
// Rows of D contiguous values go to threads when the array is large. A row's sums run on two
// vectors of T at a time over chunks of kChunk values; each chunk's sum is added to a double, so
// float speed with double accuracy. The mean is x₀ + Σ(x − x₀)/D (the terms as small as the
// spread, not as large as the values). The variance is Σ(x − hi)² with hi the mean rounded to T (x − hi
// is exact near the mean) corrected by D·lo², lo = mean − hi, as batch_norm_isa.cpp does: a row with
// |mean| ≫ std keeps its digits. The backward's column sums (grad_weight, grad_bias) go to
// min(M, kLayerNormColumnBlocks) blocks of rows, each summing in double into its own slice of a workspace,
// then added in block order: the same bits for any thread count.
#include <cmath>

#include "isa.h"
#include "pyengine/layer_norm.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kChunk = 1024;
constexpr index_t kParallelWork = 16384;   // elements below which one thread does the whole call

template <typename T>
void forward(index_t M, index_t D, const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd) {
  using vec = vec_t<T>;
  constexpr int L = lanes<T>;
  const int threads = get_num_threads();
  const bool parallel = threads > 1 && M > 1 && M * D > kParallelWork;
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
  for (index_t m = 0; m < M; ++m) {
    const T* xr = x + m * D;
    T* yr = y + m * D;
    // Σ(x − x₀) rather than Σx: the terms are as small as the spread, so a float sum keeps the
    // digits of a row like 1000 ± 0.01, where Σx in float would round away the spread.
    const T x0 = xr[0];
    const double mu =
        static_cast<double>(x0) + chunked_sum<T>(xr, D, [x0](auto v) { return v - x0; }) / static_cast<double>(D);
    const T hi = static_cast<T>(mu), lo = static_cast<T>(mu - static_cast<double>(hi));
    double sq = chunked_sum<T>(xr, D, [hi](auto v) { return (v - hi) * (v - hi); });
    sq -= static_cast<double>(D) * static_cast<double>(lo) * static_cast<double>(lo);
    const double var = (sq < 0.0 ? 0.0 : sq) / static_cast<double>(D);   // NaN stays NaN
    const double rs = 1.0 / std::sqrt(var + eps);
    mean[m] = static_cast<T>(mu);
    rstd[m] = static_cast<T>(rs);
    const T r = static_cast<T>(rs);
    index_t d = 0;
    for (; d + L <= D; d += L) {
      vec v = ((load<T>(xr + d) - hi) - lo) * r;
      if (w) v *= load<T>(w + d);
      if (b) v += load<T>(b + d);
      store<T>(yr + d, v);
    }
    for (; d < D; ++d) {
      T v = ((xr[d] - hi) - lo) * r;
      if (w) v *= w[d];
      if (b) v += b[d];
      yr[d] = v;
    }
  }
}

template <typename T>
void backward(index_t M, index_t D, const T* g, const T* x, const T* mean, const T* rstd, const T* w, T* grad_input,
              T* grad_weight, T* grad_bias) {
  using vec = vec_t<T>;
  constexpr int L = lanes<T>;
  const int threads = get_num_threads();
  const bool parallel = threads > 1 && M * D > kParallelWork;
  if (grad_input != nullptr) {
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel && M > 1)
    for (index_t m = 0; m < M; ++m) {
      const T *gr = g + m * D, *xr = x + m * D;
      T* out = grad_input + m * D;
      const T mu = mean[m], r = rstd[m];
      // a = Σ g·w, c = Σ g·w·x̂ over the row, chunks of T added in double
      double a = 0.0, c = 0.0;
      for (index_t s = 0; s < D; s += kChunk) {
        const index_t e = D - s < kChunk ? D : s + kChunk;
        vec va = {}, vc = {};
        index_t d = s;
        for (; d + L <= e; d += L) {
          vec gw = load<T>(gr + d);
          if (w) gw *= load<T>(w + d);
          va += gw;
          vc += gw * ((load<T>(xr + d) - mu) * r);
        }
        double pa = 0.0, pc = 0.0;
        for (; d < e; ++d) {
          const T gw = w ? gr[d] * w[d] : gr[d];
          pa += static_cast<double>(gw);
          pc += static_cast<double>(gw * ((xr[d] - mu) * r));
        }
        a += pa + static_cast<double>(hsum<T>(va));
        c += pc + static_cast<double>(hsum<T>(vc));
      }
      const T ma = static_cast<T>(a / static_cast<double>(D)), mc = static_cast<T>(c / static_cast<double>(D));
      index_t d = 0;
      for (; d + L <= D; d += L) {
        vec gw = load<T>(gr + d);
        if (w) gw *= load<T>(w + d);
        const vec xh = (load<T>(xr + d) - mu) * r;
        store<T>(out + d, (gw - ma - xh * mc) * r);
      }
      for (; d < D; ++d) {
        const T gw = w ? gr[d] * w[d] : gr[d];
        out[d] = (gw - ma - (xr[d] - mu) * r * mc) * r;
      }
    }
  }
  if (grad_weight == nullptr && grad_bias == nullptr) return;
  const index_t B = M < kLayerNormColumnBlocks ? M : kLayerNormColumnBlocks;
  Workspace ws;
  double* part = workspace_take<double>(ws, 2 * (B > 0 ? B : 1) * D);
  if (part == nullptr) return;
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel && B > 1)
  for (index_t j = 0; j < B; ++j) {
    double* pw = part + 2 * j * D;
    double* pb = pw + D;
    for (index_t d = 0; d < D; ++d) pw[d] = pb[d] = 0.0;
    for (index_t m = j * M / B; m < (j + 1) * M / B; ++m) {
      const T *gr = g + m * D, *xr = x + m * D;
      const T mu = mean[m], r = rstd[m];
      for (index_t d = 0; d < D; ++d) {
        pb[d] += static_cast<double>(gr[d]);
        pw[d] += static_cast<double>(gr[d] * ((xr[d] - mu) * r));
      }
    }
  }
  for (index_t d = 0; d < D; ++d) {
    double sw = 0.0, sb = 0.0;
    for (index_t j = 0; j < B; ++j) {
      sw += part[2 * j * D + d];
      sb += part[2 * j * D + D + d];
    }
    if (grad_weight) grad_weight[d] = static_cast<T>(sw);
    if (grad_bias) grad_bias[d] = static_cast<T>(sb);
  }
}

}  // namespace

void layer_norm_forward_f32(index_t M, index_t D, const float* x, const float* w, const float* b, double eps, float* y,
                            float* mean, float* rstd) {
  forward<float>(M, D, x, w, b, eps, y, mean, rstd);
}
void layer_norm_forward_f64(index_t M, index_t D, const double* x, const double* w, const double* b, double eps,
                            double* y, double* mean, double* rstd) {
  forward<double>(M, D, x, w, b, eps, y, mean, rstd);
}
void layer_norm_backward_f32(index_t M, index_t D, const float* g, const float* x, const float* mean, const float* rstd,
                             const float* w, float* gi, float* gw, float* gb) {
  backward<float>(M, D, g, x, mean, rstd, w, gi, gw, gb);
}
void layer_norm_backward_f64(index_t M, index_t D, const double* g, const double* x, const double* mean,
                             const double* rstd, const double* w, double* gi, double* gw, double* gb) {
  backward<double>(M, D, g, x, mean, rstd, w, gi, gw, gb);
}

PE_ISA_REGISTER(layer_norm_forward_f32, layer_norm_forward_f32)
PE_ISA_REGISTER(layer_norm_forward_f64, layer_norm_forward_f64)
PE_ISA_REGISTER(layer_norm_backward_f32, layer_norm_backward_f32)
PE_ISA_REGISTER(layer_norm_backward_f64, layer_norm_backward_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
