// attention_isa.cpp — the row passes of scaled dot-product attention (pyengine/attention.h), compiled
// once per ISA.
//
// softmax: per row, one pass forms x = scale·s + mask in place and its maximum (only up to the causal
// bound; the columns past it are set to 0), one pass x ← exp(x − max) with the sum (the vector exp of
// isa.h), one pass scales by 1/sum; lse = max + log(sum). probs: one pass exp(scale·s + mask − lse).
// grad: one pass ds = p·(dP − D)·scale. Rows are independent; the caller splits them over threads.
#include <cmath>

#include "isa.h"
#include "pyengine/attention.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

inline index_t bound(index_t cols, index_t r, index_t row0) {
  if (row0 < 0) return cols;
  const index_t b = r + row0 + 1;
  return b < cols ? b : cols;
}

template <typename T>
void softmax_rows(index_t rows, index_t cols, index_t ld, T* s, T scale, const T* mask, index_t mask_ld, index_t row0,
                  T* lse) {
  using V = vec_t<T>;
  constexpr int L = lanes<T>;
  const T ninf = -__builtin_inf();
  for (index_t r = 0; r < rows; ++r) {
    T* x = s + r * ld;
    const T* m = mask != nullptr ? mask + r * mask_ld : nullptr;
    const index_t n = bound(cols, r, row0);
    V vmax = splat<T>(ninf);
    index_t j = 0;
    for (; j + L <= n; j += L) {
      V v = load<T>(x + j) * scale;
      if (m != nullptr) v += load<T>(m + j);
      store<T>(x + j, v);
      vmax = v > vmax ? v : vmax;
    }
    T mx = hmax<T>(vmax);
    for (; j < n; ++j) {
      const T v = x[j] * scale + (m != nullptr ? m[j] : T(0));
      x[j] = v;
      mx = v > mx ? v : mx;
    }
    for (j = n; j < cols; ++j) x[j] = T(0);
    if (!(mx > ninf)) {   // every column masked (or NaN): torch's softmax gives NaN
      bool nan = false;   // lse as the reference's: NaN when a score is, −inf when all are masked
      for (j = 0; j < n; ++j) {
        nan = nan || x[j] != x[j];
        x[j] = __builtin_nan("");
      }
      lse[r] = nan ? T(__builtin_nan("")) : ninf;
      continue;
    }
    V vsum = {};
    j = 0;
    for (; j + L <= n; j += L) {
      const V e = vexp<T>(load<T>(x + j) - mx);
      store<T>(x + j, e);
      vsum += e;
    }
    T sum = hsum<T>(vsum);
    for (; j < n; ++j) {
      const T e = std::exp(x[j] - mx);
      x[j] = e;
      sum += e;
    }
    const T inv = T(1) / sum;
    j = 0;
    for (; j + L <= n; j += L) store<T>(x + j, load<T>(x + j) * inv);
    for (; j < n; ++j) x[j] *= inv;
    lse[r] = mx + std::log(sum);
  }
}

template <typename T>
void probs_rows(index_t rows, index_t cols, index_t ld, T* s, T scale, const T* mask, index_t mask_ld, index_t row0,
                const T* lse) {
  using V = vec_t<T>;
  constexpr int L = lanes<T>;
  for (index_t r = 0; r < rows; ++r) {
    T* x = s + r * ld;
    const T* m = mask != nullptr ? mask + r * mask_ld : nullptr;
    const T l = lse[r];
    index_t n = bound(cols, r, row0), j = 0;
    if (!(l > -__builtin_inf())) n = 0;   // a fully masked row has no gradient
    for (; j + L <= n; j += L) {
      V v = load<T>(x + j) * scale - l;
      if (m != nullptr) v += load<T>(m + j);
      store<T>(x + j, vexp<T>(v));
    }
    for (; j < n; ++j) x[j] = std::exp(x[j] * scale + (m != nullptr ? m[j] : T(0)) - l);
    for (j = n; j < cols; ++j) x[j] = T(0);
  }
}

template <typename T>
void grad_rows(index_t rows, index_t cols, index_t ld, const T* p, T* ds, const T* D, T scale) {
  constexpr int L = lanes<T>;
  for (index_t r = 0; r < rows; ++r) {
    const T* pr = p + r * ld;
    T* dr = ds + r * ld;
    const T dd = D[r];
    index_t j = 0;
    for (; j + L <= cols; j += L) store<T>(dr + j, load<T>(pr + j) * (load<T>(dr + j) - dd) * scale);
    for (; j < cols; ++j) dr[j] = pr[j] * (dr[j] - dd) * scale;
  }
}

void softmax_f32(index_t rows, index_t cols, index_t ld, float* s, float scale, const float* mask, index_t mask_ld,
                 index_t row0, float* lse) {
  softmax_rows<float>(rows, cols, ld, s, scale, mask, mask_ld, row0, lse);
}
void softmax_f64(index_t rows, index_t cols, index_t ld, double* s, double scale, const double* mask,
                 index_t mask_ld, index_t row0, double* lse) {
  softmax_rows<double>(rows, cols, ld, s, scale, mask, mask_ld, row0, lse);
}
void probs_f32(index_t rows, index_t cols, index_t ld, float* s, float scale, const float* mask, index_t mask_ld,
               index_t row0, const float* lse) {
  probs_rows<float>(rows, cols, ld, s, scale, mask, mask_ld, row0, lse);
}
void probs_f64(index_t rows, index_t cols, index_t ld, double* s, double scale, const double* mask, index_t mask_ld,
               index_t row0, const double* lse) {
  probs_rows<double>(rows, cols, ld, s, scale, mask, mask_ld, row0, lse);
}
void grad_f32(index_t rows, index_t cols, index_t ld, const float* p, float* ds, const float* D, float scale) {
  grad_rows<float>(rows, cols, ld, p, ds, D, scale);
}
void grad_f64(index_t rows, index_t cols, index_t ld, const double* p, double* ds, const double* D, double scale) {
  grad_rows<double>(rows, cols, ld, p, ds, D, scale);
}

}  // namespace

PE_ISA_REGISTER(attention_softmax_f32, softmax_f32)
PE_ISA_REGISTER(attention_softmax_f64, softmax_f64)
PE_ISA_REGISTER(attention_probs_f32, probs_f32)
PE_ISA_REGISTER(attention_probs_f64, probs_f64)
PE_ISA_REGISTER(attention_grad_f32, grad_f32)
PE_ISA_REGISTER(attention_grad_f64, grad_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
