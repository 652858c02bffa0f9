// pyengine/pad.h — the non-constant padding modes of F.pad (PyTorch's reflection_pad, replication_pad
// and circular pad; conv's padding_mode), forward and backward.
//
// Shapes: x (P, D, H, W) → y (P, OD, OH, OW), the last 1, 2 or 3 axes of the caller's array padded
// (the others, and the missing ones, of extent 1, fold into P). pad lists (before, after) pairs from
// the last axis backwards, as torch: (left, right[, top, bottom[, front, back]]); OW = left + W + right.
// Along each padded axis of length n with widths (a, b), output o reads input src(o − a):
//   reflect    src(i) = |i| mirrored at n − 1 without repeating the edge (…, 2, 1, 0, 1, 2, …,
//              n − 2, n − 1, n − 2, …); a, b < n
//   replicate  src(i) = clamp(i, 0, n − 1); n ≥ 1 when a + b > 0
//   circular   src(i) = i mod n; a, b ≤ n
//   y[p, od, oh, ow] = x[p, srcD(od − front), srcH(oh − top), srcW(ow − left)]          (written)
// Backward is the adjoint: grad_x[p, d, h, w] = Σ over the outputs that read (d, h, w) of grad_y
// (written: every input is read by at least its own interior output).
//
// Algorithm, CPU (csrc/cpu/pad.cpp): per-axis source tables, O(OD + OH + OW), then one output row
// at a time: its interior is one memcpy of the source row, its borders a gather through the width
// table; rows over threads. Backward: planes over threads, each plane zeroed and every output row
// added onto its source row (the interior a contiguous add the compiler vectorises, the borders
// through the table), in a fixed order, so the sums are the same for any thread count. A copy at
// memory speed needs no per-ISA kernels. CUDA (csrc/cuda/pad.cu): forward one thread per output;
// backward one thread per input element, which gathers from the outputs that read it (along each
// axis at most three ranges: its interior position and the mirror or wrap on each side; replicate's
// edges a range), deterministic, without atomics.
#pragma once
#include "pyengine/common.h"

#if defined(__CUDACC__)
#define PE_PAD_HD __host__ __device__ __forceinline__
#else
#define PE_PAD_HD inline
#endif

namespace pyengine {

enum class PadMode : int { reflect = 0, replicate = 1, circular = 2 };

// The geometry of one call: P planes of (D, H, W), widths per axis (before, after).
struct PadDims {
  index_t P, D, H, W;
  index_t d0, d1, h0, h1, w0, w1;
  PadMode mode;
  PE_PAD_HD index_t OD() const { return d0 + D + d1; }
  PE_PAD_HD index_t OH() const { return h0 + H + h1; }
  PE_PAD_HD index_t OW() const { return w0 + W + w1; }
};

// The input position output o reads along an axis of n with `before` padding (the contract holds
// the widths to one reflection or wrap).
PE_PAD_HD index_t pad_source(index_t n, index_t before, PadMode mode, index_t o) {
  index_t i = o - before;
  if (mode == PadMode::replicate) return i < 0 ? 0 : (i >= n ? n - 1 : i);
  if (mode == PadMode::circular) return i < 0 ? i + n : (i >= n ? i - n : i);
  if (n == 1) return 0;
  if (i < 0) i = -i;
  return i >= n ? 2 * (n - 1) - i : i;
}

// The outputs that read input i along an axis (n, before a, after b): up to three ranges
// [lo[k], hi[k]) of output positions, returned count. Interior o = a + i always; reflect adds the
// mirrors o = a − i (i in [1, a]) and o = a + 2(n − 1) − i (i in [n − 1 − b, n − 2]); circular the
// wraps o = a + i − n (i ≥ n − a) and o = a + i + n (i < b); replicate the whole left border with
// i = 0 and the right one with i = n − 1.
PE_PAD_HD int pad_readers(index_t n, index_t a, index_t b, PadMode mode, index_t i, index_t lo[3], index_t hi[3]) {
  int k = 0;
  if (mode == PadMode::replicate) {
    lo[k] = i == 0 ? 0 : a + i;
    hi[k] = i == n - 1 ? a + n + b : a + i + 1;
    return 1;
  }
  lo[k] = a + i, hi[k] = a + i + 1, ++k;
  if (mode == PadMode::reflect) {
    if (i >= 1 && i <= a) lo[k] = a - i, hi[k] = a - i + 1, ++k;
    if (i <= n - 2 && i >= n - 1 - b) lo[k] = a + 2 * (n - 1) - i, hi[k] = lo[k] + 1, ++k;
  } else {
    if (i >= n - a) lo[k] = a + i - n, hi[k] = lo[k] + 1, ++k;
    if (i < b) lo[k] = a + i + n, hi[k] = lo[k] + 1, ++k;
  }
  return k;
}

}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <string>
#include <vector>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_pad.cpp, both devices), with the reference's messages: mode
// 'reflect', 'replicate' or 'circular'; pad 2, 4 or 6 non-negative ints; x (forward) or
// input_shape (backward) with k + 1 or k + 2 axes for k = len(pad)/2; reflect needs a, b < n,
// circular a, b ≤ n, replicate n ≥ 1 when it pads; backward's grad_output has the padded shape.
namespace pyengine::contract {

inline PadMode pad_mode(const char* fn, const std::string& mode, const std::string& repr) {
  if (mode == "reflect") return PadMode::reflect;
  if (mode == "replicate") return PadMode::replicate;
  if (mode == "circular") return PadMode::circular;
  value_error(fn, ": mode must be 'reflect', 'replicate' or 'circular', got ", repr);
}

// The geometry of padding an array of `shape` by `pad` (torch's order).
inline PadDims pad_dims(const char* fn, const char* name, const std::vector<index_t>& shape,
                        const std::vector<index_t>& pad, PadMode mode) {
  const int k = static_cast<int>(pad.size()) / 2;
  const int nd = static_cast<int>(shape.size());
  std::string pad_repr = "(";
  for (size_t j = 0; j < pad.size(); ++j) pad_repr += (j ? ", " : "") + std::to_string(pad[j]);
  pad_repr += pad.size() == 1 ? ",)" : ")";
  if (pad.size() % 2 || k < 1 || k > 3)
    value_error(fn, ": pad must hold 1, 2 or 3 (before, after) pairs, got ", pad_repr);
  if (nd != k + 1 && nd != k + 2)
    value_error(fn, ": ", name, " must have ", k + 1, " or ", k + 2, " axes for pad of ", 2 * k, " values, got ",
                shape_str(shape));
  for (index_t v : pad)
    if (v < 0) value_error(fn, ": pad must be >= 0, got ", pad_repr);
  index_t ext[3] = {1, 1, 1}, w[3][2] = {{0, 0}, {0, 0}, {0, 0}};  // (D, H, W) and their widths
  for (int j = 0; j < k; ++j) {
    const index_t n = shape[static_cast<size_t>(nd - 1 - j)], a = pad[2 * j], b = pad[2 * j + 1];
    const bool bad = mode == PadMode::reflect ? (a >= n || b >= n)
                     : mode == PadMode::circular ? (a > n || b > n)
                                                 : (n == 0 && a + b > 0);
    if (bad)
      value_error(fn, ": mode='", mode == PadMode::reflect ? "reflect" : mode == PadMode::circular ? "circular" : "replicate",
                  "' needs padding ", mode == PadMode::reflect ? "less than" : "at most", " the axis size, got padding (",
                  a, ", ", b, ") for axis ", nd - 1 - j, " of size ", n, " (", name, " ", shape_str(shape), ")");
    ext[2 - j] = n, w[2 - j][0] = a, w[2 - j][1] = b;
  }
  index_t P = 1;
  for (int j = 0; j < nd - k; ++j) P *= shape[static_cast<size_t>(j)];
  PadDims d{P, ext[0], ext[1], ext[2], w[0][0], w[0][1], w[1][0], w[1][1], w[2][0], w[2][1], mode};
  std::vector<index_t> out = shape;
  for (int j = 0; j < k; ++j) out[static_cast<size_t>(nd - 1 - j)] += pad[2 * j] + pad[2 * j + 1];
  checked_numel(fn, "output shape", out);
  return d;
}

// The padded shape of `shape`.
inline std::vector<index_t> pad_output_shape(const std::vector<index_t>& shape, const std::vector<index_t>& pad) {
  std::vector<index_t> out = shape;
  const size_t nd = shape.size();
  for (size_t j = 0; j < pad.size() / 2; ++j) out[nd - 1 - j] += pad[2 * j] + pad[2 * j + 1];
  return out;
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {
template <typename T>
void pad_forward(const PadDims& d, const T* x, T* y);
template <typename T>
void pad_backward(const PadDims& d, const T* grad_y, T* grad_x);
}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/pad.cu), on the caller's stream.
namespace pyengine::cuda {
template <typename T>
void pad_forward(const PadDims& d, const T* x, T* y, cudaStream_t stream);
template <typename T>
void pad_backward(const PadDims& d, const T* grad_y, T* grad_x, cudaStream_t stream);
}  // namespace pyengine::cuda
