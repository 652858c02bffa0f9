// batch_norm_isa.cpp — batch normalisation forward/backward (see pyengine/batch_norm.h), compiled
// once per ISA.
//
// Channel c of x (N, C, HW) is N runs of HW contiguous values. With HW > 1 the loops run over
// channels in parallel; each run is summed in chunks of at most kChunk values with 16 independent
// accumulators of the element type (one AVX-512 register of floats, so the loop vectorises without
// reassociation), and each chunk's sum is added to a double: float speed, double accuracy. With
// HW = 1 (2-D input) a channel is strided by C, so threads take blocks of kBlock channels and walk
// the rows, accumulating the block in stack arrays of doubles.
// Deviations are taken from hi = (T)mean, the part of the mean representable in T (x − hi is exact
// near the mean), and corrected by lo = mean − hi, so a large |mean| does not cost digits.
#include <cmath>

#include "isa.h"
#include "pyengine/batch_norm.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kBlock = 64;
constexpr index_t kChunk = 2048;

// Σ f(v) over a contiguous run.
template <typename T, typename F>
inline double run_sum(const T* v, index_t n, F f) {
  double total = 0.0;
  for (index_t s = 0; s < n; s += kChunk) {
    const index_t e = n - s < kChunk ? n : s + kChunk;
    T acc[16] = {};
    index_t i = s;
    for (; i + 16 <= e; i += 16)
      for (int k = 0; k < 16; ++k) acc[k] += f(v[i + k]);
    double part = 0.0;
    for (; i < e; ++i) part += static_cast<double>(f(v[i]));
    for (int k = 0; k < 16; ++k) part += static_cast<double>(acc[k]);
    total += part;
  }
  return total;
}

// Σ g and Σ g·(x − hi) over a contiguous run, on native-width vectors of T, two of each in flight
// (GCC does not vectorise the two interleaved reductions on its own).
template <typename T>
inline void run_grad_sums(const T* g, const T* x, index_t n, T hi, double& sg, double& sgx) {
  using vec = vec_t<T>;
  constexpr int L = lanes<T>;
  for (index_t s = 0; s < n; s += kChunk) {
    const index_t e = n - s < kChunk ? n : s + kChunk;
    vec a0 = {}, a1 = {}, b0 = {}, b1 = {};
    index_t i = s;
    for (; i + 2 * L <= e; i += 2 * L) {
      vec g0, g1, x0, x1;
      __builtin_memcpy(&g0, g + i, sizeof g0);
      __builtin_memcpy(&g1, g + i + L, sizeof g1);
      __builtin_memcpy(&x0, x + i, sizeof x0);
      __builtin_memcpy(&x1, x + i + L, sizeof x1);
      a0 += g0;
      a1 += g1;
      b0 += g0 * (x0 - hi);
      b1 += g1 * (x1 - hi);
    }
    double pa = 0.0, pb = 0.0;
    for (; i < e; ++i) {
      pa += static_cast<double>(g[i]);
      pb += static_cast<double>(g[i] * (x[i] - hi));
    }
    for (int k = 0; k < L; ++k) {
      pa += static_cast<double>(a0[k]) + static_cast<double>(a1[k]);
      pb += static_cast<double>(b0[k]) + static_cast<double>(b1[k]);
    }
    sg += pa;
    sgx += pb;
  }
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

template <typename T>
void bn_forward(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias,
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
        for (index_t n = 0; n < N; ++n) sum += run_sum(x + (n * C + c) * HW, HW, [](T v) { return v; });
        const SplitT<T> m = split<T>(sum / static_cast<double>(M));
        double sq = 0.0;   // Σ(x − hi)² = Σ(x − mean)² + M·lo²
        for (index_t n = 0; n < N; ++n)
          sq += run_sum(x + (n * C + c) * HW, HW, [m](T v) { return (v - m.hi) * (v - m.hi); });
        const double lo = static_cast<double>(m.lo);
        sq -= static_cast<double>(M) * lo * lo;
        st = finish_stats(sum, sq < 0.0 ? 0.0 : sq  /* NaN stays NaN */, M, c, running_mean, running_var, momentum, eps);
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
void bn_backward(index_t N, index_t C, index_t HW, const T* g, const T* x, const T* weight,
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
      const SplitT<T> m = split<T>(mean);
      double sg = 0.0, sgx = 0.0;
      if (need_sums) {
        for (index_t n = 0; n < N; ++n) run_grad_sums(g + (n * C + c) * HW, x + (n * C + c) * HW, HW, m.hi, sg, sgx);
        sgx -= static_cast<double>(m.lo) * sg;   // Σg·(x − mean) = Σg·(x − hi) − lo·Σg
      }
      if (grad_bias) grad_bias[c] = static_cast<T>(sg);
      if (grad_weight) grad_weight[c] = static_cast<T>(sgx * static_cast<double>(save_invstd[c]));
      if (!grad_input) continue;
      double a, b, d;
      coefficients(c, sg, sgx, a, b, d);
      const T ta = static_cast<T>(a), tb = static_cast<T>(b), td = static_cast<T>(d);
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

}  // namespace

void bn_forward_f32(index_t N, index_t C, index_t HW, const float* x, const float* w, const float* b, float* rm,
                    float* rv, bool training, double momentum, double eps, float* y, float* mean, float* invstd) {
  bn_forward(N, C, HW, x, w, b, rm, rv, training, momentum, eps, y, mean, invstd);
}
void bn_forward_f64(index_t N, index_t C, index_t HW, const double* x, const double* w, const double* b, double* rm,
                    double* rv, bool training, double momentum, double eps, double* y, double* mean, double* invstd) {
  bn_forward(N, C, HW, x, w, b, rm, rv, training, momentum, eps, y, mean, invstd);
}
void bn_backward_f32(index_t N, index_t C, index_t HW, const float* g, const float* x, const float* w,
                     const float* mean, const float* invstd, bool training, float* gi, float* gw, float* gb) {
  bn_backward(N, C, HW, g, x, w, mean, invstd, training, gi, gw, gb);
}
void bn_backward_f64(index_t N, index_t C, index_t HW, const double* g, const double* x, const double* w,
                     const double* mean, const double* invstd, bool training, double* gi, double* gw, double* gb) {
  bn_backward(N, C, HW, g, x, w, mean, invstd, training, gi, gw, gb);
}

PE_ISA_REGISTER(bn_forward_f32, bn_forward_f32)
PE_ISA_REGISTER(bn_forward_f64, bn_forward_f64)
PE_ISA_REGISTER(bn_backward_f32, bn_backward_f32)
PE_ISA_REGISTER(bn_backward_f64, bn_backward_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
