// image.cpp — crop + flip + ToTensor + Normalize of one uint8 image in one pass (pyengine/image.h).
//
// Per output row: the in-bounds columns [x0, x1) are gathered from the source row (the rest, and
// rows outside the source, hold the padding's normalised zero), then [x0, x1) is scaled and
// normalised in place by a contiguous loop the compiler vectorises. The arithmetic is three IEEE
// float operations per value in NumPy's order (multiply, subtract, divide; no FMA at the baseline
// ISA this file is built for), so the result equals the step-by-step NumPy transforms bit for bit.
#include "pyengine/image.h"

#include <algorithm>
#include <vector>

namespace pyengine::cpu {

namespace {

// Source row sy's in-bounds taps → output rows o[c] (as floats), for output columns [x0, x1); the
// source is read once, in order (flipped: the outputs are written right to left). CC > 0: the channel
// count known at compile time (the common 1 and 3), so the inner loop is unrolled.
template <int CC>
void gather_row(const std::uint8_t* row, index_t C, index_t sw, index_t sc, index_t first, index_t x0, index_t x1,
                bool flip, index_t OW, float* const* o) {
  const index_t nc = CC > 0 ? CC : C;
  const index_t n = x1 - x0;
  const std::uint8_t* p = row + first * sw;     // the tap of the leftmost in-bounds source column
  if (!flip) {
    for (index_t k = 0; k < n; ++k)
      for (index_t c = 0; c < nc; ++c) o[c][x0 + k] = static_cast<float>(p[k * sw + c * sc]);
  } else {
    for (index_t k = 0; k < n; ++k)
      for (index_t c = 0; c < nc; ++c) o[c][OW - 1 - (x0 + k)] = static_cast<float>(p[k * sw + c * sc]);
  }
}

}  // namespace

void crop_flip_to_tensor(const std::uint8_t* src, index_t H, index_t W, index_t C, index_t sh, index_t sw,
                         index_t sc, index_t top, index_t left, index_t OH, index_t OW, bool flip,
                         const float* mean, const float* std, float* out) {
  const float scale = static_cast<float>(1.0 / 255.0);   // NumPy's np.float32(1.0 / 255.0)
  // Unflipped output columns [x0, x1) read source columns left + x inside [0, W); flipped, output
  // column x reads the tap of unflipped column OW − 1 − x, so [OW − x1, OW − x0) is filled.
  const index_t x0 = std::clamp<index_t>(-left, 0, OW), x1 = std::clamp<index_t>(W - left, 0, OW);
  const index_t f0 = flip ? OW - x1 : x0, f1 = flip ? OW - x0 : x1;   // the filled output columns
  std::vector<float*> rows(static_cast<size_t>(C));
  for (index_t y = 0; y < OH; ++y) {
    for (index_t c = 0; c < C; ++c) rows[c] = out + (c * OH + y) * OW;
    const index_t sy = top + y;
    const bool inside = sy >= 0 && sy < H && x0 < x1;
    if (inside) {
      const std::uint8_t* row = src + sy * sh;
      if (C == 3) gather_row<3>(row, C, sw, sc, left + x0, x0, x1, flip, OW, rows.data());
      else if (C == 1) gather_row<1>(row, C, sw, sc, left + x0, x0, x1, flip, OW, rows.data());
      else gather_row<0>(row, C, sw, sc, left + x0, x0, x1, flip, OW, rows.data());
    }
    for (index_t c = 0; c < C; ++c) {
      const float m = mean[c], s = std[c];
      const float fill = (0.0f * scale - m) / s;
      float* o = rows[c];
      const index_t a = inside ? f0 : OW, b = inside ? f1 : OW;
      std::fill(o, o + a, fill);
      std::fill(o + b, o + OW, fill);
      for (index_t x = a; x < b; ++x) o[x] = (o[x] * scale - m) / s;
    }
  }
}

}  // namespace pyengine::cpu
