// batchnorm.cpp — batch normalisation forward/backward (see pyengine/batchnorm.h).
//
// Channel c of x (N, C, HW) is N runs of HW contiguous values. With HW > 1 the loops run over
// channels in parallel and over each run with eight independent double accumulators (so the sum
// vectorises without reassociating). With HW = 1 (2-D input) a channel is strided by C, so threads
// take blocks of kBlock channels and walk the rows, accumulating the block in a stack array.
#include "pyengine/batchnorm.h"

#include <cmath>

namespace pyengine::cpu {
namespace {

constexpr index_t kBlock = 64;

// Σ f(v) over a contiguous run, eight accumulators.
template <typename T, typename F>
inline double run_sum(const T* v, index_t n, F f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += f(static_cast<double>(v[i + k]));
  for (; i < n; ++i) acc[0] += f(static_cast<double>(v[i]));
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Σ g·(x − mean) and Σ g over a contiguous run.
template <typename T>
inline void run_grad_sums(const T* g, const T* x, index_t n, double mean, double& sg, double& sgx) {
  double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
  index_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) {
      const double gv = static_cast<double>(g[i + k]);
      a[k] += gv;
      b[k] += gv * (static_cast<double>(x[i + k]) - mean);
    }
  for (; i < n; ++i) {
    const double gv = static_cast<double>(g[i]);
    a[0] += gv;
    b[0] += gv * (static_cast<double>(x[i]) - mean);
  }
  sg += (a[0] + a[1]) + (a[2] + a[3]);
  sgx += (b[0] + b[1]) + (b[2] + b[3]);
}

// The mean as hi + lo in T: x − hi is exact for x near the mean (Sterbenz), so (x − hi) − lo keeps
// the digits a float32 x·scale + shift would cancel away when |mean| ≫ std.
template <typename T>
struct SplitT {
  T hi, lo;
};
template <typename T>
inline SplitT<T> split(double v) {
  const T hi = static_cast<T>(v);
  return {hi, static_cast<T>(v - static_cast<double>(hi))};
}

struct Stats {
  double mean, invstd;
};

template <typename T>
Stats finish_stats(double sum, double sq_dev, index_t M, index_t c, T* running_mean, T* running_var, double momentum,
                   double eps) {
  const double mean = sum / static_cast<double>(M);
  const double var = sq_dev / static_cast<double>(M);
  if (running_mean != nullptr) {
    running_mean[c] = static_cast<T>((1.0 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] = static_cast<T>((1.0 - momentum) * running_var[c] +
                                    momentum * var * static_cast<double>(M) / static_cast<double>(M - 1));
  }
  return {mean, 1.0 / std::sqrt(var + eps)};
}

}  // namespace

template <typename T>
void batch_norm_forward(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias,
                        T* running_mean, T* running_var, bool training, double momentum, double eps, T* y,
                        T* save_mean, T* save_invstd) {
  const index_t M = N * HW;
  const int threads = get_num_threads();
  const bool parallel = threads > 1 && N * C * HW > 16384;
  auto eval_stats = [&](index_t c) -> Stats {
    return {static_cast<double>(running_mean[c]), 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps)};
  };
  if (HW > 1 || C < 2 * kBlock) {
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
    for (index_t c = 0; c < C; ++c) {
      Stats st{0.0, 0.0};
      if (!training) {
        st = eval_stats(c);
      } else if (M > 0) {
        double sum = 0.0;
        for (index_t n = 0; n < N; ++n) sum += run_sum(x + (n * C + c) * HW, HW, [](double v) { return v; });
        const double mean = sum / static_cast<double>(M);
        double sq = 0.0;
        for (index_t n = 0; n < N; ++n)
          sq += run_sum(x + (n * C + c) * HW, HW, [mean](double v) { return (v - mean) * (v - mean); });
        st = finish_stats(sum, sq, M, c, running_mean, running_var, momentum, eps);
      }
      save_mean[c] = static_cast<T>(st.mean);
      save_invstd[c] = static_cast<T>(st.invstd);
      const double w = weight ? static_cast<double>(weight[c]) : 1.0;
      const double b = bias ? static_cast<double>(bias[c]) : 0.0;
      const T scale = static_cast<T>(st.invstd * w), shift = static_cast<T>(b);
      const SplitT<T> m = split<T>(st.mean);
      for (index_t n = 0; n < N; ++n) {
        const T* src = x + (n * C + c) * HW;
        T* dst = y + (n * C + c) * HW;
        for (index_t i = 0; i < HW; ++i) dst[i] = ((src[i] - m.hi) - m.lo) * scale + shift;
      }
    }
    return;
  }
  // HW == 1 and many channels: blocks of channels, rows walked in order.
  const index_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
  for (index_t blk = 0; blk < blocks; ++blk) {
    const index_t c0 = blk * kBlock, cn = (C - c0 < kBlock ? C - c0 : kBlock);
    double mean[kBlock], invstd[kBlock];
    if (!training) {
      for (index_t k = 0; k < cn; ++k) {
        const Stats st = eval_stats(c0 + k);
        mean[k] = st.mean;
        invstd[k] = st.invstd;
      }
    } else if (M == 0) {
      for (index_t k = 0; k < cn; ++k) mean[k] = invstd[k] = 0.0;
    } else {
      double sum[kBlock] = {}, sq[kBlock] = {};
      for (index_t n = 0; n < N; ++n)
        for (index_t k = 0; k < cn; ++k) sum[k] += static_cast<double>(x[n * C + c0 + k]);
      for (index_t k = 0; k < cn; ++k) mean[k] = sum[k] / static_cast<double>(M);
      for (index_t n = 0; n < N; ++n)
        for (index_t k = 0; k < cn; ++k) {
          const double d = static_cast<double>(x[n * C + c0 + k]) - mean[k];
          sq[k] += d * d;
        }
      for (index_t k = 0; k < cn; ++k) {
        const Stats st = finish_stats(sum[k], sq[k], M, c0 + k, running_mean, running_var, momentum, eps);
        invstd[k] = st.invstd;
      }
    }
    T scale[kBlock], shift[kBlock], mhi[kBlock], mlo[kBlock];
    for (index_t k = 0; k < cn; ++k) {
      save_mean[c0 + k] = static_cast<T>(mean[k]);
      save_invstd[c0 + k] = static_cast<T>(invstd[k]);
      const double w = weight ? static_cast<double>(weight[c0 + k]) : 1.0;
      scale[k] = static_cast<T>(invstd[k] * w);
      shift[k] = bias ? bias[c0 + k] : T(0);
      const SplitT<T> m = split<T>(mean[k]);
      mhi[k] = m.hi;
      mlo[k] = m.lo;
    }
    for (index_t n = 0; n < N; ++n)
      for (index_t k = 0; k < cn; ++k)
        y[n * C + c0 + k] = ((x[n * C + c0 + k] - mhi[k]) - mlo[k]) * scale[k] + shift[k];
  }
}

template <typename T>
void batch_norm_backward(index_t N, index_t C, index_t HW, const T* g, const T* x, const T* weight,
                         const T* save_mean, const T* save_invstd, bool training, T* grad_input, T* grad_weight,
                         T* grad_bias) {
  const index_t M = N * HW;
  const int threads = get_num_threads();
  const bool parallel = threads > 1 && N * C * HW > 16384;
  const bool need_sums = grad_weight != nullptr || grad_bias != nullptr || (grad_input != nullptr && training);
  // grad_input = a·g + b·(x − mean) + d per channel
  auto coefficients = [&](index_t c, double sg, double sgx, double& a, double& b, double& d) {
    const double invstd = static_cast<double>(save_invstd[c]);
    a = (weight ? static_cast<double>(weight[c]) : 1.0) * invstd;
    b = d = 0.0;
    if (training && M > 0) {
      b = -a * invstd * invstd * sgx / static_cast<double>(M);
      d = -a * sg / static_cast<double>(M);
    }
  };
  if (HW > 1 || C < 2 * kBlock) {
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
    for (index_t c = 0; c < C; ++c) {
      const double mean = static_cast<double>(save_mean[c]);
      double sg = 0.0, sgx = 0.0;
      if (need_sums)
        for (index_t n = 0; n < N; ++n) run_grad_sums(g + (n * C + c) * HW, x + (n * C + c) * HW, HW, mean, sg, sgx);
      if (grad_bias) grad_bias[c] = static_cast<T>(sg);
      if (grad_weight) grad_weight[c] = static_cast<T>(sgx * static_cast<double>(save_invstd[c]));
      if (!grad_input) continue;
      double a, b, d;
      coefficients(c, sg, sgx, a, b, d);
      const T ta = static_cast<T>(a), tb = static_cast<T>(b), td = static_cast<T>(d);
      const SplitT<T> m = split<T>(mean);
      for (index_t n = 0; n < N; ++n) {
        const T* gs = g + (n * C + c) * HW;
        const T* xs = x + (n * C + c) * HW;
        T* dst = grad_input + (n * C + c) * HW;
        for (index_t i = 0; i < HW; ++i) dst[i] = ta * gs[i] + tb * ((xs[i] - m.hi) - m.lo) + td;
      }
    }
    return;
  }
  const index_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
  for (index_t blk = 0; blk < blocks; ++blk) {
    const index_t c0 = blk * kBlock, cn = (C - c0 < kBlock ? C - c0 : kBlock);
    double sg[kBlock] = {}, sgx[kBlock] = {}, mean[kBlock];
    for (index_t k = 0; k < cn; ++k) mean[k] = static_cast<double>(save_mean[c0 + k]);
    if (need_sums)
      for (index_t n = 0; n < N; ++n)
        for (index_t k = 0; k < cn; ++k) {
          const double gv = static_cast<double>(g[n * C + c0 + k]);
          sg[k] += gv;
          sgx[k] += gv * (static_cast<double>(x[n * C + c0 + k]) - mean[k]);
        }
    T ta[kBlock], tb[kBlock], td[kBlock], mhi[kBlock], mlo[kBlock];
    for (index_t k = 0; k < cn; ++k) {
      const index_t c = c0 + k;
      if (grad_bias) grad_bias[c] = static_cast<T>(sg[k]);
      if (grad_weight) grad_weight[c] = static_cast<T>(sgx[k] * static_cast<double>(save_invstd[c]));
      double a, b, d;
      coefficients(c, sg[k], sgx[k], a, b, d);
      ta[k] = static_cast<T>(a);
      tb[k] = static_cast<T>(b);
      td[k] = static_cast<T>(d);
      const SplitT<T> m = split<T>(mean[k]);
      mhi[k] = m.hi;
      mlo[k] = m.lo;
    }
    if (grad_input)
      for (index_t n = 0; n < N; ++n)
        for (index_t k = 0; k < cn; ++k)
          grad_input[n * C + c0 + k] =
              ta[k] * g[n * C + c0 + k] + tb[k] * ((x[n * C + c0 + k] - mhi[k]) - mlo[k]) + td[k];
  }
}

template void batch_norm_forward<float>(index_t, index_t, index_t, const float*, const float*, const float*, float*,
                                        float*, bool, double, double, float*, float*, float*);
template void batch_norm_forward<double>(index_t, index_t, index_t, const double*, const double*, const double*,
                                         double*, double*, bool, double, double, double*, double*, double*);
template void batch_norm_backward<float>(index_t, index_t, index_t, const float*, const float*, const float*,
                                         const float*, const float*, bool, float*, float*, float*);
template void batch_norm_backward<double>(index_t, index_t, index_t, const double*, const double*, const double*,
                                          const double*, const double*, bool, double*, double*, double*);

}  // namespace pyengine::cpu
