// softmax_isa.cpp — softmax / log-softmax over one axis, forward and backward (pyengine/softmax.h),
// compiled once per ISA.
//
// The array is (OUTER, D, INNER). INNER = 1: each of the OUTER rows is contiguous; three vector
// passes per row (max; exp(x − max) and its sum; scale, or subtract the log of the sum). INNER > 1:
// the same passes on a slab of one vector width along INNER: lane i follows its own softmax over
// d, and every load is a contiguous vector at (o·D + d)·INNER + j. Rows / slabs are independent
// and split over OpenMP threads when the array is large. Partial vectors are padded with 0 and
// their extra lanes discarded.
#include <cmath>
#include "isa.h"
#include "pyengine/softmax.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kParallelMin = index_t(1) << 15;

int threads_for(index_t work) { return work >= kParallelMin ? get_num_threads() : 1; }

// Up to `lanes` independent softmaxes along d, one per lane: w lanes in use, `stride` (= INNER)
// elements between consecutive d.
template <typename T>
struct Slab {
  index_t w, stride;
  vec_t<T> ld(const T* p) const { return w == Vec<T>::lanes ? load<T>(p) : load_part<T>(p, w, T(0)); }
  void st(T* p, vec_t<T> v) const {
    if (w == Vec<T>::lanes) store<T>(p, v); else store_part<T>(p, v, w);
  }
};

template <typename T, bool kLog>
void slab_forward(const Slab<T>& s, index_t dim, const T* x, T* y) {
  using vec = vec_t<T>;
  vec m = s.ld(x);
  for (index_t d = 1; d < dim; ++d) {
    const vec v = s.ld(x + d * s.stride);
    m = v > m ? v : m;
  }
  vec sum = splat<T>(T(0));
  for (index_t d = 0; d < dim; ++d) {
    const vec e = vexp<T>(s.ld(x + d * s.stride) - m);
    if (!kLog) s.st(y + d * s.stride, e);
    sum += e;
  }
  if (kLog) {
    vec log_sum;
    for (int i = 0; i < Vec<T>::lanes; ++i) log_sum[i] = std::log(sum[i]);
    for (index_t d = 0; d < dim; ++d) s.st(y + d * s.stride, (s.ld(x + d * s.stride) - m) - log_sum);
  } else {
    const vec r = T(1) / sum;
    for (index_t d = 0; d < dim; ++d) s.st(y + d * s.stride, s.ld(y + d * s.stride) * r);
  }
}

template <typename T, bool kLog>
void row_forward(index_t dim, const T* x, T* y) {
  using vec = vec_t<T>;
  constexpr index_t L = Vec<T>::lanes;
  const index_t full = dim / L * L;
  T m = -__builtin_inf();
  if (full) {
    vec mv = load<T>(x);
    for (index_t d = L; d < full; d += L) {
      const vec v = load<T>(x + d);
      mv = v > mv ? v : mv;
    }
    m = hmax<T>(mv);
  }
  for (index_t d = full; d < dim; ++d) m = x[d] > m ? x[d] : m;
  // A NaN never wins the comparisons above, but exp(NaN − m) makes the sum, and so every
  // output of the row, NaN, as in the reference.
  const vec mv = splat<T>(m);
  vec sv = splat<T>(T(0));
  for (index_t d = 0; d < full; d += L) {
    const vec e = vexp<T>(load<T>(x + d) - mv);
    if (!kLog) store<T>(y + d, e);
    sv += e;
  }
  T sum = hsum<T>(sv);
  if (full < dim) {
    const index_t rest = dim - full;
    const vec e = vexp<T>(load_part<T>(x + full, rest, T(0)) - mv);
    if (!kLog) store_part<T>(y + full, e, rest);
    for (index_t i = 0; i < rest; ++i) sum += e[i];
  }
  if (kLog) {
    const vec shift = splat<T>(m), ls = splat<T>(std::log(sum));
    index_t d = 0;
    for (; d < full; d += L) store<T>(y + d, (load<T>(x + d) - shift) - ls);
    for (; d < dim; ++d) y[d] = (x[d] - m) - ls[0];
  } else {
    const T r = T(1) / sum;
    index_t d = 0;
    for (; d < full; d += L) store<T>(y + d, load<T>(y + d) * r);
    for (; d < dim; ++d) y[d] *= r;
  }
}

// softmax: dx = y·(g − Σ g·y);  log_softmax: dx = g − exp(y)·Σ g.
template <typename T, bool kLog>
void slab_backward(const Slab<T>& s, index_t dim, const T* g, const T* y, T* gx) {
  using vec = vec_t<T>;
  vec acc = splat<T>(T(0));
  for (index_t d = 0; d < dim; ++d) {
    const vec gv = s.ld(g + d * s.stride);
    acc += kLog ? gv : gv * s.ld(y + d * s.stride);
  }
  for (index_t d = 0; d < dim; ++d) {
    const vec gv = s.ld(g + d * s.stride), yv = s.ld(y + d * s.stride);
    s.st(gx + d * s.stride, kLog ? gv - vexp<T>(yv) * acc : yv * (gv - acc));
  }
}

template <typename T, bool kLog>
void row_backward(index_t dim, const T* g, const T* y, T* gx) {
  using vec = vec_t<T>;
  constexpr index_t L = Vec<T>::lanes;
  const index_t full = dim / L * L;
  vec av = splat<T>(T(0));
  for (index_t d = 0; d < full; d += L) av += kLog ? load<T>(g + d) : load<T>(g + d) * load<T>(y + d);
  T acc = hsum<T>(av);
  for (index_t d = full; d < dim; ++d) acc += kLog ? g[d] : g[d] * y[d];
  const vec a = splat<T>(acc);
  for (index_t d = 0; d < full; d += L) {
    const vec gv = load<T>(g + d), yv = load<T>(y + d);
    store<T>(gx + d, kLog ? gv - vexp<T>(yv) * a : yv * (gv - a));
  }
  if (full < dim) {
    const index_t rest = dim - full;
    const vec gv = load_part<T>(g + full, rest, T(0)), yv = load_part<T>(y + full, rest, T(0));
    store_part<T>(gx + full, kLog ? gv - vexp<T>(yv) * a : yv * (gv - a), rest);
  }
}

template <typename T, bool kLog>
void forward(index_t outer, index_t dim, index_t inner, const T* x, T* y) {
  if (outer == 0 || dim == 0 || inner == 0) return;
  const int threads = threads_for(outer * dim * inner);
  if (inner == 1) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (index_t o = 0; o < outer; ++o) row_forward<T, kLog>(dim, x + o * dim, y + o * dim);
    return;
  }
  constexpr index_t L = Vec<T>::lanes;
  const index_t slabs = (inner + L - 1) / L;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (index_t item = 0; item < outer * slabs; ++item) {
    const index_t o = item / slabs, j = item % slabs * L;
    const Slab<T> s{inner - j < L ? inner - j : L, inner};
    const index_t off = o * dim * inner + j;
    slab_forward<T, kLog>(s, dim, x + off, y + off);
  }
}

template <typename T, bool kLog>
void backward(index_t outer, index_t dim, index_t inner, const T* g, const T* y, T* gx) {
  if (outer == 0 || dim == 0 || inner == 0) return;
  const int threads = threads_for(outer * dim * inner);
  if (inner == 1) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (index_t o = 0; o < outer; ++o) row_backward<T, kLog>(dim, g + o * dim, y + o * dim, gx + o * dim);
    return;
  }
  constexpr index_t L = Vec<T>::lanes;
  const index_t slabs = (inner + L - 1) / L;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (index_t item = 0; item < outer * slabs; ++item) {
    const index_t o = item / slabs, j = item % slabs * L;
    const Slab<T> s{inner - j < L ? inner - j : L, inner};
    const index_t off = o * dim * inner + j;
    slab_backward<T, kLog>(s, dim, g + off, y + off, gx + off);
  }
}

template <typename T>
void softmax_any(int op, bool backward_pass, index_t outer, index_t dim, index_t inner, const T* a, const T* b,
                 T* out) {
  const bool log = static_cast<SoftmaxOp>(op) == SoftmaxOp::log_softmax;
  if (!backward_pass) {
    if (log) forward<T, true>(outer, dim, inner, a, out);
    else forward<T, false>(outer, dim, inner, a, out);
  } else {
    if (log) backward<T, true>(outer, dim, inner, a, b, out);
    else backward<T, false>(outer, dim, inner, a, b, out);
  }
}

}  // namespace

// a = x (forward) or grad_output (backward, then b = output); out = y or grad_input.
void softmax_f32(int op, bool bwd, index_t outer, index_t dim, index_t inner, const float* a, const float* b,
                 float* out) {
  softmax_any<float>(op, bwd, outer, dim, inner, a, b, out);
}
void softmax_f64(int op, bool bwd, index_t outer, index_t dim, index_t inner, const double* a, const double* b,
                 double* out) {
  softmax_any<double>(op, bwd, outer, dim, inner, a, b, out);
}

PE_ISA_REGISTER(softmax_f32, softmax_f32)
PE_ISA_REGISTER(softmax_f64, softmax_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
