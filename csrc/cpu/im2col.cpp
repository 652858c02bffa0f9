// im2col.cpp — im2col / col2im (see pyengine/conv2d.h).
//
// Each (channel, r, s) row of the column buffer is built output row by output row: the output
// positions ow whose input column iw = ow·sw + s·dw − pw falls inside [0, W) form one interval
// [lo, hi), computed once per (s); outside it the row is zero. With stride 1 the interval is a
// plain copy (memcpy). col2im walks the same intervals and adds instead of copying. Outputs of at
// most 256 positions (rows of 4-16 elements) go through a per-tap table of input offsets instead.
#include <cstring>
#include <vector>

#include "pyengine/conv2d.h"
#include "pyengine/parallel.h"

namespace pyengine::cpu {
namespace {

// First ow with ow·sw + off ≥ 0 and first ow with ow·sw + off ≥ W, both clamped to [0, OW].
inline void valid_range(index_t off, index_t stride, index_t W, index_t OW, index_t* lo, index_t* hi) {
  auto first_at_least = [&](index_t bound) {  // smallest ow with ow·stride + off ≥ bound
    const index_t need = bound - off;
    index_t v = need <= 0 ? 0 : (need + stride - 1) / stride;
    return v > OW ? OW : v;
  };
  *lo = first_at_least(0);
  *hi = first_at_least(W);
  if (*hi < *lo) *hi = *lo;
}

// Small outputs (at most kTableMax positions per tap, as on ResNet's 4×4-16×16 layers): the rows
// are 4-16 elements long, and a memcpy / memset per row costs more than the copy (the 512-channel
// 4×4 layer makes 590 K of them per batch of 32). Instead each tap (r, s) gets a table of the input
// offset each output position reads (−1: padding), built once per call, and every channel's row is
// one gather over it.
constexpr index_t kTableMax = 256;

// table[(r·S + s)·L + oh·OW + ow] = ih·W + iw of the input that tap (r, s) of that output reads, or −1.
std::vector<int> tap_table(const ConvGeom& g) {
  const index_t R = g.R, S = g.S, OH = g.OH, OW = g.OW, H = g.H, W = g.W, L = OH * OW;
  std::vector<int> table(static_cast<size_t>(R * S * L));
  for (index_t r = 0; r < R; ++r)
    for (index_t s = 0; s < S; ++s) {
      int* t = table.data() + (r * S + s) * L;
      for (index_t oh = 0; oh < OH; ++oh) {
        const index_t ih = oh * g.sh + r * g.dh - g.ph;
        for (index_t ow = 0; ow < OW; ++ow) {
          const index_t iw = ow * g.sw + s * g.dw - g.pw;
          t[oh * OW + ow] = ih >= 0 && ih < H && iw >= 0 && iw < W ? static_cast<int>(ih * W + iw) : -1;
        }
      }
    }
  return table;
}

bool use_table(const ConvGeom& g) { return g.OH * g.OW <= kTableMax && g.H * g.W < (index_t(1) << 30); }

template <typename T>
void im2col_image_table(const ConvGeom& g, index_t channels, const T* x, T* cols, index_t ld) {
  const index_t H = g.H, W = g.W, L = g.OH * g.OW, RS = g.R * g.S;
  const std::vector<int> table = tap_table(g);
  for (index_t c = 0; c < channels; ++c) {
    const T* xc = x + c * H * W;
    for (index_t rs = 0; rs < RS; ++rs) {
      const int* t = table.data() + rs * L;
      T* row = cols + (c * RS + rs) * ld;
      for (index_t q = 0; q < L; ++q) row[q] = t[q] >= 0 ? xc[t[q]] : T(0);
    }
  }
}

// The adjoint: one scatter-add per channel and tap (within one tap no two outputs read the same input).
template <typename T>
void col2im_image_table(const ConvGeom& g, index_t channels, const T* cols, index_t ld, T* x) {
  const index_t H = g.H, W = g.W, L = g.OH * g.OW, RS = g.R * g.S;
  const std::vector<int> table = tap_table(g);
  std::memset(x, 0, sizeof(T) * static_cast<size_t>(channels * H * W));
  for (index_t c = 0; c < channels; ++c) {
    T* xc = x + c * H * W;
    for (index_t rs = 0; rs < RS; ++rs) {
      const int* t = table.data() + rs * L;
      const T* row = cols + (c * RS + rs) * ld;
      for (index_t q = 0; q < L; ++q)
        if (t[q] >= 0) xc[t[q]] += row[q];
    }
  }
}

}  // namespace

template <typename T>
void im2col_image(const ConvGeom& g, index_t channels, const T* x, T* cols, index_t ld) {
  const index_t R = g.R, S = g.S, OH = g.OH, OW = g.OW, H = g.H, W = g.W;
  if (use_table(g)) {
    im2col_image_table(g, channels, x, cols, ld);
    return;
  }
  for (index_t c = 0; c < channels; ++c) {
    const T* xc = x + c * H * W;
    for (index_t r = 0; r < R; ++r) {
      for (index_t s = 0; s < S; ++s) {
        T* row = cols + ((c * R + r) * S + s) * ld;
        const index_t col_off = s * g.dw - g.pw;
        index_t lo, hi;
        valid_range(col_off, g.sw, W, OW, &lo, &hi);
        for (index_t oh = 0; oh < OH; ++oh) {
          T* out = row + oh * OW;
          const index_t ih = oh * g.sh + r * g.dh - g.ph;
          if (ih < 0 || ih >= H) {
            std::memset(out, 0, sizeof(T) * static_cast<size_t>(OW));
            continue;
          }
          const T* in = xc + ih * W;
          for (index_t ow = 0; ow < lo; ++ow) out[ow] = T(0);
          if (g.sw == 1) {
            if (hi > lo) std::memcpy(out + lo, in + lo + col_off, sizeof(T) * static_cast<size_t>(hi - lo));
          } else {
            for (index_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * g.sw + col_off];
          }
          for (index_t ow = hi; ow < OW; ++ow) out[ow] = T(0);
        }
      }
    }
  }
}

template <typename T>
void col2im_image(const ConvGeom& g, index_t channels, const T* cols, index_t ld, T* x) {
  const index_t R = g.R, S = g.S, OH = g.OH, OW = g.OW, H = g.H, W = g.W;
  if (use_table(g)) {
    col2im_image_table(g, channels, cols, ld, x);
    return;
  }
  std::memset(x, 0, sizeof(T) * static_cast<size_t>(channels * H * W));
  for (index_t c = 0; c < channels; ++c) {
    T* xc = x + c * H * W;
    for (index_t r = 0; r < R; ++r) {
      for (index_t s = 0; s < S; ++s) {
        const T* row = cols + ((c * R + r) * S + s) * ld;
        const index_t col_off = s * g.dw - g.pw;
        index_t lo, hi;
        valid_range(col_off, g.sw, W, OW, &lo, &hi);
        if (hi <= lo) continue;
        for (index_t oh = 0; oh < OH; ++oh) {
          const index_t ih = oh * g.sh + r * g.dh - g.ph;
          if (ih < 0 || ih >= H) continue;
          const T* in = row + oh * OW;
          T* out = xc + ih * W + col_off + lo * g.sw;  // the first valid position
          if (g.sw == 1) {
            for (index_t ow = lo; ow < hi; ++ow) out[ow - lo] += in[ow];
          } else {
            for (index_t ow = lo; ow < hi; ++ow) out[(ow - lo) * g.sw] += in[ow];
          }
        }
      }
    }
  }
}

template <typename T>
void im2col(const ConvGeom& g, const T* x, T* cols) {
  const index_t L = g.OH * g.OW, rows = g.C * g.R * g.S;
  parallel_for(g.N, get_num_threads(), [&](index_t n) { im2col_image(g, g.C, x + n * g.C * g.H * g.W, cols + n * rows * L, L); });
}

template <typename T>
void col2im(const ConvGeom& g, const T* cols, T* x) {
  const index_t L = g.OH * g.OW, rows = g.C * g.R * g.S;
  parallel_for(g.N, get_num_threads(), [&](index_t n) { col2im_image(g, g.C, cols + n * rows * L, L, x + n * g.C * g.H * g.W); });
}

#define PE_INSTANTIATE(T)                                                              \
  template void im2col_image<T>(const ConvGeom&, index_t, const T*, T*, index_t);     \
  template void col2im_image<T>(const ConvGeom&, index_t, const T*, index_t, T*);     \
  template void im2col<T>(const ConvGeom&, const T*, T*);                              \
  template void col2im<T>(const ConvGeom&, const T*, T*);
PE_INSTANTIATE(float)
PE_INSTANTIATE(double)
#undef PE_INSTANTIATE

}  // namespace pyengine::cpu
