// adaptive_pool2d_isa.cpp — the adaptive max-pooling kernels of pyengine/adaptive_pool2d.h,
// compiled once per ISA.
//
// Forward, per plane and output row i: a vector pass down the rows of the bin keeps, for each input
// column w, the running maximum m[w] and its row r[w] under the scan rule (replace when greater or
// NaN), lanes of w at a time (the last vector of a row overlapping the one before); then cell j combines the columns of its bin (the header gives the
// rule that makes this the row-major scan's answer). The float path keeps rows as int32 (an int
// vector with the float vector's lanes); a plane taller than 2**31 − 1 rows takes the direct scan.
// Backward: the plane's gradient is zeroed and every cell adds into its index, one plane per
// thread, after checking the index lies in the cell's bin.
#include <climits>
#include <cstring>

#include "isa.h"
#include "pyengine/adaptive_pool2d.h"

namespace pyengine::cpu::PYENGINE_ISA {
namespace {

constexpr index_t kParallelWork = 16384;   // input elements below which one thread does the call

template <typename T> struct RowOf;
template <> struct RowOf<float> { typedef std::int32_t type; typedef vi32 vec; };
template <> struct RowOf<double> { typedef std::int64_t type; typedef vi64 vec; };

int threads_for(index_t P, index_t H, index_t W) {
  const int t = get_num_threads();
  return t > 1 && P > 1 && P * H * W > kParallelWork ? threads_for_items(P) : 1;
}

template <typename T>
inline bool is_nan(T v) { return v != v; }

// The direct scan of one cell (ATen's loop).
template <typename T>
inline void scan_cell(const T* xp, index_t W, index_t r0, index_t r1, index_t c0, index_t c1, T& best, index_t& at) {
  best = xp[r0 * W + c0];
  at = r0 * W + c0;
  for (index_t r = r0; r < r1; ++r)
    for (index_t c = c0; c < c1; ++c) {
      const T v = xp[r * W + c];
      if (v > best || is_nan(v)) {
        best = v;
        at = r * W + c;
      }
    }
}

template <typename T>
void forward(const AdaptivePool2dDims& d, const T* x, T* y, std::int64_t* idx) {
  using R = typename RowOf<T>::type;
  using RV = typename RowOf<T>::vec;
  using V = vec_t<T>;
  constexpr int L = lanes<T>;
  const index_t H = d.H, W = d.W, OH = d.OH, OW = d.OW;
  const bool direct = sizeof(R) == 4 && H > INT_MAX;
  parallel_for_ranges(d.P, threads_for(d.P, H, W), [&](index_t p0, index_t p1, int) {
    Workspace ws;
    T* m = direct ? nullptr : workspace_take<T>(ws, W + L);
    R* rows = direct ? nullptr : workspace_take<R>(ws, W + L);
    const bool use_direct = direct || m == nullptr || rows == nullptr;
    for (index_t p = p0; p < p1; ++p) {
      const T* xp = x + p * H * W;
      T* yp = y + p * OH * OW;
      std::int64_t* ip = idx + p * OH * OW;
      for (index_t i = 0; i < OH; ++i) {
        index_t r0, r1;
        adaptive_bin(H, OH, i, r0, r1);
        if (use_direct) {
          for (index_t j = 0; j < OW; ++j) {
            index_t c0, c1, at;
            adaptive_bin(W, OW, j, c0, c1);
            scan_cell(xp, W, r0, r1, c0, c1, yp[i * OW + j], at);
            ip[i * OW + j] = at;
          }
          continue;
        }
        // the column pass: m[w], rows[w] = the scan down column w of rows [r0, r1), a vector of
        // columns at a time; the last vector overlaps the one before it (the same values again)
        // unless the row is narrower than a vector.
        for (index_t w = 0; w < W; w += L) {
          const bool part = W < L;
          const index_t w0 = part ? 0 : (w + L <= W ? w : W - L);
          const T* col = xp + w0;
          V best = part ? load_part<T>(col + r0 * W, W, T(0)) : load<T>(col + r0 * W);
          RV at = RV{} + static_cast<R>(r0);
          for (index_t r = r0 + 1; r < r1; ++r) {
            const V v = part ? load_part<T>(col + r * W, W, T(0)) : load<T>(col + r * W);
            const auto take = (v > best) | (v != v);
            best = take ? v : best;
            at = take ? RV{} + static_cast<R>(r) : at;
          }
          if (part) {
            store_part<T>(m, best, W);
            for (index_t k = 0; k < W; ++k) rows[k] = at[k];
          } else {
            store<T>(m + w0, best);
            std::memcpy(rows + w0, &at, sizeof(at));
          }
        }
        // the cells: combine the columns of each bin
        for (index_t j = 0; j < OW; ++j) {
          index_t c0, c1;
          adaptive_bin(W, OW, j, c0, c1);
          T best = m[c0];
          index_t br = rows[c0], bc = c0;
          bool nan = is_nan(best);
          for (index_t c = c0 + 1; c < c1; ++c) {   // branch-free: the data decide, not the predictor
            const T v = m[c];
            const index_t r = rows[c];
            const bool vn = is_nan(v);
            // with a NaN seen: the last NaN in row-major order; else the first maximum in row-major order
            const bool take = nan ? (vn & (r >= br)) : (vn | (v > best) | ((v == best) & (r < br)));
            best = take ? v : best;
            br = take ? r : br;
            bc = take ? c : bc;
            nan = nan | vn;
          }
          yp[i * OW + j] = best;
          ip[i * OW + j] = br * W + bc;
        }
      }
    }
  });
}

template <typename T>
index_t backward(const AdaptivePool2dDims& d, const T* g, const std::int64_t* idx, T* gx) {
  const index_t H = d.H, W = d.W, OH = d.OH, OW = d.OW;
  index_t bad_total = 0;
  index_t bad_slot[256] = {};
  const int threads = threads_for(d.P, H, W) > 256 ? 256 : threads_for(d.P, H, W);
  parallel_for_ranges(d.P, threads, [&](index_t p0, index_t p1, int slot) {
    index_t bad = 0;
    for (index_t p = p0; p < p1; ++p) {
      T* gp = gx + p * H * W;
      const T* gy = g + p * OH * OW;
      const std::int64_t* ip = idx + p * OH * OW;
      std::memset(gp, 0, sizeof(T) * static_cast<size_t>(H * W));
      for (index_t i = 0; i < OH; ++i) {
        index_t r0, r1;
        adaptive_bin(H, OH, i, r0, r1);
        for (index_t j = 0; j < OW; ++j) {
          index_t c0, c1;
          adaptive_bin(W, OW, j, c0, c1);
          const std::int64_t at = ip[i * OW + j];
          if (at < 0 || at >= H * W) {
            ++bad;
            continue;
          }
          const index_t r = at / W, c = at % W;
          if (r < r0 || r >= r1 || c < c0 || c >= c1) {
            ++bad;
            continue;
          }
          gp[at] += gy[i * OW + j];
        }
      }
    }
    bad_slot[slot] += bad;
  });
  for (int s = 0; s < 256; ++s) bad_total += bad_slot[s];
  return bad_total;
}

void forward_f32(const AdaptivePool2dDims& d, const float* x, float* y, std::int64_t* idx) { forward<float>(d, x, y, idx); }
void forward_f64(const AdaptivePool2dDims& d, const double* x, double* y, std::int64_t* idx) {
  forward<double>(d, x, y, idx);
}
index_t backward_f32(const AdaptivePool2dDims& d, const float* g, const std::int64_t* idx, float* gx) {
  return backward<float>(d, g, idx, gx);
}
index_t backward_f64(const AdaptivePool2dDims& d, const double* g, const std::int64_t* idx, double* gx) {
  return backward<double>(d, g, idx, gx);
}

}  // namespace

PE_ISA_REGISTER(adaptive_max_pool2d_forward_f32, forward_f32)
PE_ISA_REGISTER(adaptive_max_pool2d_forward_f64, forward_f64)
PE_ISA_REGISTER(adaptive_max_pool2d_backward_f32, backward_f32)
PE_ISA_REGISTER(adaptive_max_pool2d_backward_f64, backward_f64)

}  // namespace pyengine::cpu::PYENGINE_ISA
