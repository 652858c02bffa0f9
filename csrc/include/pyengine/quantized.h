// pyengine/quantized.h — int8 convolution and linear layers (integer GEMMs with requantization),
// uint8 max pooling and float32 → uint8 quantization.
//
// Quantization maps a real value r to an integer q by r ≈ scale · (q − zero_point).
//   activations x (input) and y (output): uint8, one scale and zero point per tensor, zp ∈ [0, 255];
//   weights w: int8 in [−127, 127], symmetric (zero point 0), one scale per output channel.
// Legend (common.h): x (N, C, H, W) and w (K, C/G, R, S) for convolution; x (N, I) and w (O, I) for
// linear, whose output channel k is o and whose reduction index j runs over I. J = Cg·R·S or I.
//
// Every kernel computes, for output channel k and output position p (an output pixel, or a row n):
//   acc[k, p]  = Σ_j w[k, j] · x_j(p)                            int32, exact (see the limits)
//   v[k, p]    = acc[k, p] + offset[k],   offset[k] = bias[k] − x_zero_point · Σ_j w[k, j]
// where x_j(p) is the input under tap j of position p — x_zero_point in the zero padding (the
// quantized real zero), so Σ_j w·(x_j − x_zero_point) is the convolution of the real values — and
// bias is int32 in the scale x_scale·w_scale[k] (null: zero). Then, with float32 arithmetic
// (IEEE, round to nearest even, no fused multiply-add, so pyengine/reference/quantized.py
// reproduces every bit):
//   uint8 output:    y[k, p] = clamp(rint(float32(v) · multiplier[k]) + y_zero_point, qmin, qmax)
//                    multiplier[k] = x_scale · w_scale[k] / y_scale; a fused ReLU is qmin = y_zp
//   float32 output:  y[k, p] = float32(v) · multiplier[k]          multiplier[k] = x_scale · w_scale[k]
// The outputs are written (never accumulated), NCHW for convolution and (N, O) for linear. The
// uint8 output needs finite multipliers; the float32 one propagates NaN and Inf as IEEE does.
//
// Limits checked by the binding: J ≤ 32768 and |bias| ≤ 2^30, so that |acc| ≤ 255·127·J < 2^30 and
// every int32 sum above is exact; weights never −128 (see the AVX2 kernel below).
//
// Algorithms (csrc/cpu/quantized.cpp drives, csrc/cpu/isa/quantized_isa.cpp computes):
//  * convolution: per image and group, im2col into uint8 columns (J × L, L = OH·OW, padded with
//    x_zero_point; a 1×1 stride-1 convolution without padding uses the image itself), then
//    Y(Kg × L) = W(Kg × J) · cols with the requantization applied as each tile is stored.
//    Two special cases skip im2col on the SIMD copies: stride 1 with one group (the shifted-image
//    kernel, quantized_conv_s1: the padded image itself is the GEMM's B operand) and, on AVX-512
//    VNNI + VBMI, depthwise with R ≤ 8, S ≤ 4 (one vpermb + vpdpbusd per filter row and 16 outputs).
//  * linear: Y(N × O) = X(N × I) · W(O × I)ᵀ as dot products along I of a row of x and a row of w.
//  Instruction sets (picked at run time, like the float kernels):
//  * AVX-512 VNNI: vpdpbusd multiplies 4 uint8 by 4 int8 and adds the 4 products to an int32 lane,
//    without intermediate saturation. Convolution columns are interleaved in quads of j,
//    (J/4, L, 4), so one 64-byte load holds 4 taps of 16 positions; the weights are broadcast.
//  * AVX2 (and AVX-512 machines without VNNI): vpmaddubsw multiplies uint8 by int8 and adds adjacent
//    pairs into int16 with saturation — 255·127 + 255·127 overflows int16, the classic pitfall. So
//    x is shifted to signed, x' = x − 128 ∈ [−128, 127] (acc gains −128·Σw, folded into offset),
//    and the pairs are formed as |x'| (uint8, ≤ 128) times w·sign(x') (int8, |w| ≤ 127 so the
//    negation cannot overflow): a pair is at most 2·128·127 = 32512 < 2^15, exact. vpmaddwd with
//    ones then widens the pair sums into int32 lanes.
//  * generic: plain integer loops over the same data.
// Images are spread over threads when there are at least as many as threads; otherwise the
// columns of one image are.
#pragma once
#include <cstdint>

#include "pyengine/conv2d.h"
#include "pyengine/pool2d.h"

namespace pyengine::cpu {
constexpr index_t kQuantizedMaxReduction = 32768;   // J limit (see above)
}

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include "pyengine/check.h"

// The contract (csrc/bindings/bind_quantized.cpp): x uint8, weight int8 never −128, bias int32 with
// |bias| ≤ 2^30 or None, multiplier float32 (float64 is rounded to float32) of K entries, finite for
// the uint8 output; zero points and clamp bounds in [0, 255] with qmin ≤ qmax; J ≤ 32768. The value
// checks (weights, biases, multipliers) read host memory.
namespace pyengine::contract {

inline void quantized_int_array(const char* fn, const Array& a, const char* dtype, int ndim) {
  if (a.dtype_name != dtype) type_error(fn, ": ", a.name, " must be ", dtype, ", got ", a.dtype_name);
  if (a.ndim() != ndim)
    value_error(fn, ": ", a.name, " must be ", ndim, "-D, got ", a.ndim(), "-D array of shape ", shape_str(a.shape));
}

inline index_t quantized_u8(const char* fn, const char* name, index_t v) {
  if (v < 0 || v > 255) value_error(fn, ": ", name, " must be in [0, 255], got ", v);
  return v;
}

inline void quantized_reduction(const char* fn, index_t J) {
  if (J > cpu::kQuantizedMaxReduction)
    value_error(fn, ": the reduction length ", J, " (products per output) exceeds ", cpu::kQuantizedMaxReduction,
                ", beyond which int32 accumulation could overflow");
}

inline void quantized_weight_values(const char* fn, const std::int8_t* w, index_t n) {
  for (index_t i = 0; i < n; ++i)
    if (w[i] == -128)
      value_error(fn, ": weight holds -128 at flat index ", i, "; int8 weights must lie in [-127, 127]");
}

inline void quantized_bias(const char* fn, const Array& bias, index_t K) {
  if (!bias.present) return;
  quantized_int_array(fn, bias, "int32", 1);
  shape_is(fn, bias, {K});
}

inline void quantized_bias_values(const char* fn, const std::int32_t* b, index_t K) {
  for (index_t i = 0; b && i < K; ++i)
    if (b[i] > (1 << 30) || b[i] < -(1 << 30)) value_error(fn, ": bias[", i, "] = ", b[i], " is outside [-2^30, 2^30]");
}

inline void quantized_multiplier(const char* fn, const Array& m, index_t K) {
  if (!m.is_float())
    type_error(fn, ": multiplier must be float32 (float64 is rounded to float32), got ", m.dtype_name);
  if (m.ndim() != 1)
    value_error(fn, ": multiplier must be 1-D, got ", m.ndim(), "-D array of shape ", shape_str(m.shape));
  shape_is(fn, m, {K});
}

// quantize_per_tensor's scale: finite and positive.
inline void quantize_scale(const char* fn, double scale) {
  if (!(std::isfinite(scale) && scale > 0)) value_error(fn, ": scale must be finite and > 0, got ", scale);
}

inline void quantized_multiplier_values(const char* fn, const float* m, index_t K) {
  for (index_t i = 0; i < K; ++i)   // rint of a NaN or an infinity has no integer
    if (!std::isfinite(m[i])) value_error(fn, ": multiplier[", i, "] = ", m[i], " must be finite for a uint8 output");
}

}  // namespace pyengine::contract
#endif

namespace pyengine::cpu {

// What turns v = acc + offset into the output (see above). offset and multiplier have one entry
// per output channel. out_u8 selects the uint8 output (qmin ≤ qmax in [0, 255]); otherwise float32.
struct Requant {
  const std::int32_t* offset;
  const float* multiplier;
  std::int32_t y_zero_point;
  std::int32_t qmin, qmax;
  bool out_u8;
};

// x (N, C, H, W) uint8, w (K, Cg, R, S) int8, bias (K,) int32 or null; y (N, K, OH, OW) uint8 or
// float32 per rq.out_u8.
void quantized_conv2d(const ConvGeom& g, const std::uint8_t* x, std::int32_t x_zero_point,
                      const std::int8_t* w, const std::int32_t* bias, const float* multiplier,
                      std::int32_t y_zero_point, std::int32_t qmin, std::int32_t qmax, bool out_u8, void* y);

// x (N, I) uint8, w (O, I) int8, bias (O,) int32 or null; y (N, O) uint8 or float32 per out_u8.
void quantized_linear(index_t N, index_t I, index_t O, const std::uint8_t* x, std::int32_t x_zero_point,
                      const std::int8_t* w, const std::int32_t* bias, const float* multiplier,
                      std::int32_t y_zero_point, std::int32_t qmin, std::int32_t qmax, bool out_u8, void* y);

// Max pooling of uint8 x (N, C, H, W) → y (N, C, OH, OW) (the float max_pool2d's geometry; every
// window holds at least one input element, checked by the binding). Scale and zero point unchanged:
// max commutes with the monotone quantization.
void quantized_max_pool2d(index_t N, index_t C, index_t H, index_t W, index_t kh, index_t kw, index_t sh,
                          index_t sw, index_t ph, index_t pw, index_t dh, index_t dw, index_t OH, index_t OW,
                          const std::uint8_t* x, std::uint8_t* y);

// y = clamp(rint(x / scale) + zero_point, 0, 255) for n float32 values (NaN → zero_point), float32
// division and round to nearest even, as the reference.
void quantize_per_tensor(index_t n, const float* x, float scale, std::int32_t zero_point, std::uint8_t* y);

// Max pooling of uint8 x (N, C, H, W) → y (N, C, OH, OW), the float max_pool2d's geometry
// (pyengine/pool2d.h; every window holds an input element). Scale and zero point are unchanged:
// max commutes with the monotone quantization. The 2×2 stride-2 unpadded case is vectorised.
void quantized_max_pool2d(const Pool2dShape& s, const std::uint8_t* x, std::uint8_t* y);

// y = clamp(rint(x / scale) + zero_point, 0, 255) for n float32 values (NaN → zero_point), float32
// division and round to nearest even, as the reference.
void quantize_per_tensor(index_t n, const float* x, float scale, std::int32_t zero_point, std::uint8_t* y);

// The int8 kernel the current CPU and instruction-set choice run: "avx512_vnni", "avx2" or "generic".
const char* quantized_kernel_name();

// ---- the per-ISA kernels (csrc/cpu/isa/quantized_isa.cpp registers one copy per instruction set)
PE_ISA_KERNEL(quantized_conv_gemm, void(index_t, index_t, index_t, const std::int8_t*, const std::uint8_t*, index_t,
              const std::int32_t*, const Requant&, void*, bool));
PE_ISA_KERNEL(quantized_linear_gemm, void(index_t, index_t, index_t, const std::uint8_t*, const std::int8_t*,
              const std::int32_t*, const Requant&, void*));
// The stride-1 one-group convolution without im2col (x, pad = x_zero_point, w, rowsum, rq, y); false
// when this copy has none (generic), and the caller takes the im2col path.
PE_ISA_KERNEL(quantized_conv_s1, bool(const ConvGeom&, const std::uint8_t*, std::uint8_t, const std::int8_t*,
              const std::int32_t*, const Requant&, void*));
// The depthwise convolution (x, pad, w, rq, y); false where it does not apply (not VNNI + VBMI, S > 4, R > 8).
PE_ISA_KERNEL(quantized_depthwise, bool(const ConvGeom&, const std::uint8_t*, std::uint8_t, const std::int8_t*,
              const Requant&, void*));
PE_ISA_KERNEL(quantize_f32, void(index_t, const float*, float, std::int32_t, std::uint8_t*));
// One output row of 2×2 stride-2 max pooling from input rows r0, r1: out[o] = max of the 2×2 block.
PE_ISA_KERNEL(max_pool_2x2_row, void(index_t, const std::uint8_t*, const std::uint8_t*, std::uint8_t*));

}  // namespace pyengine::cpu
