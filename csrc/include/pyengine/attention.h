// pyengine/attention.h — scaled dot-product attention (torch's F.scaled_dot_product_attention, no dropout).
//
// Shapes: query (B, H, L, E), key (B, Hk, S, E), value (B, Hk, S, Ev); H = G·Hk (grouped-query attention:
// query head h reads key/value head h / G, torch's enable_gqa); mask null or additive (MB, MH, L, S),
// MB ∈ {1, B}, MH ∈ {1, H} (a size-1 dimension broadcast). Per (b, h), rows i < L, columns j < S:
//   s[i, j] = scale · q_i·k_j + mask[i, j]            (causal: −inf for j > i, never materialised)
//   lse[i]  = log Σ_j exp(s[i, j]),   P = exp(s − lse),   out = P·v
// forward writes out (B, H, L, Ev) and logsumexp (B, H, L), which the backward reads (P is recomputed
// from it, not stored). A row with every column masked has lse = −inf and a NaN output, like torch's
// softmax; its gradient is 0.
// backward, g = grad_output, D_i = Σ_e g[i, e]·out[i, e]:
//   dv = Σ_{h in the group} Pᵀ·g,   dP = g·vᵀ,   dS = P ∘ (dP − D),
//   dq = scale · dS·k,   dk = scale · Σ_{h in the group} dSᵀ·q
// All written (the group sums accumulate into a zeroed output inside the call), each only when asked.
//
// Algorithm, CPU (csrc/cpu/attention.cpp over the per-ISA row passes of csrc/cpu/isa/attention_isa.cpp):
// the G query heads of one key/value head are G·L contiguous rows, taken in blocks of kAttnRows rows so
// that the scores of a block (kAttnRows × S) stay in cache. Forward per block: s = q·kᵀ (our GEMM), one
// fused row pass (scale, mask or causal bound, max, exp, sum, normalise, lse), out = P·v (GEMM). With
// causal the block's rows [i0, i1) only see columns j < i1, so the GEMMs run over that prefix: half the
// work. Blocks over threads. Backward per key/value head (its dk and dv sum over the group): per block
// recompute s (GEMM), P from lse (row pass), dv += Pᵀ·g, dP = g·vᵀ, dS (row pass), dq = dS·k,
// dk += dSᵀ·q (GEMMs); heads over threads.
// CUDA (csrc/cuda/attention.cu): the same on batched GEMMs over (b, key/value head) with the scores of
// all rows in a workspace, and row-pass kernels (one warp per row).
#pragma once
#include "pyengine/common.h"
#include "pyengine/isa_dispatch.h"

namespace pyengine {
struct AttentionDims {
  index_t B, H, Hk, L, S, E, Ev;
  index_t MB, MH;      // the mask's first two sizes (0, 0 without a mask)
  bool causal;
  double scale;
};
constexpr index_t kAttnRows = 64;   // query rows per block of the CPU kernels
}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <cmath>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_attention.cpp, both devices), with the reference's messages.
namespace pyengine::contract {

inline AttentionDims attention_dims(const char* fn, const Array& q, const Array& k, const Array& v, const Array& mask,
                                    bool causal, bool has_scale, double scale) {
  float_array(fn, q, 4);
  float_array(fn, k, 4);
  float_array(fn, v, 4);
  same_dtype(fn, q, k);
  same_dtype(fn, q, v);
  AttentionDims d{q.dim(0), q.dim(1), k.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3), 0, 0, causal, 1.0};
  if (k.dim(0) != d.B || v.dim(0) != d.B)
    value_error(fn, ": query, key and value must have the same batch size, got ", d.B, ", ", k.dim(0), " and ",
                v.dim(0));
  if (k.dim(3) != d.E) value_error(fn, ": key's last dimension (", k.dim(3), ") must equal query's (", d.E, ")");
  if (v.dim(1) != d.Hk || v.dim(2) != d.S)
    value_error(fn, ": value must have key's heads and length (", d.Hk, ", ", d.S, "), got (", v.dim(1), ", ",
                v.dim(2), ")");
  if (d.Hk == 0 || d.H % d.Hk != 0)
    value_error(fn, ": query heads (", d.H, ") must be a multiple of key/value heads (", d.Hk, ")");
  d.scale = has_scale ? scale : (d.E > 0 ? 1.0 / std::sqrt(static_cast<double>(d.E)) : 1.0);
  if (mask.present) {
    if (causal) value_error(fn, ": pass either attn_mask or is_causal=True, not both");
    float_array(fn, mask, 4);
    same_dtype(fn, q, mask);
    d.MB = mask.dim(0);
    d.MH = mask.dim(1);
    if ((d.MB != 1 && d.MB != d.B) || (d.MH != 1 && d.MH != d.H) || mask.dim(2) != d.L || mask.dim(3) != d.S)
      value_error(fn, ": attn_mask must have shape (1 or ", d.B, ", 1 or ", d.H, ", ", d.L, ", ", d.S, "), got ",
                  shape_str(mask.shape));
  }
  checked_numel(fn, "output shape", {d.B, d.H, d.L, d.Ev});
  checked_numel(fn, "scores shape", {d.B, d.H, d.L, d.S});
  return d;
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {

// ---- the per-ISA row passes (csrc/cpu/isa/attention_isa.cpp) over `rows` rows of `cols` scores, row
// stride ld; row r's causal bound is column r + row0 (row0 < 0: none), its mask row mask + r·mask_ld
// (null: none).
// softmax: s ← P = exp(scale·s + mask − lse) in place, lse[r] written (a fully masked row: NaN, −inf).
// probs: the same from a given lse (the backward's recomputation; a −inf lse gives a row of 0).
// grad: ds ← P ∘ (dP − D[r]) · scale, P in p, dP in ds (in place).
PE_ISA_KERNEL(attention_softmax_f32, void(index_t rows, index_t cols, index_t ld, float* s, float scale,
                                          const float* mask, index_t mask_ld, index_t row0, float* lse));
PE_ISA_KERNEL(attention_softmax_f64, void(index_t rows, index_t cols, index_t ld, double* s, double scale,
                                          const double* mask, index_t mask_ld, index_t row0, double* lse));
PE_ISA_KERNEL(attention_probs_f32, void(index_t rows, index_t cols, index_t ld, float* s, float scale,
                                        const float* mask, index_t mask_ld, index_t row0, const float* lse));
PE_ISA_KERNEL(attention_probs_f64, void(index_t rows, index_t cols, index_t ld, double* s, double scale,
                                        const double* mask, index_t mask_ld, index_t row0, const double* lse));
PE_ISA_KERNEL(attention_grad_f32, void(index_t rows, index_t cols, index_t ld, const float* p, float* ds,
                                       const float* D, float scale));
PE_ISA_KERNEL(attention_grad_f64, void(index_t rows, index_t cols, index_t ld, const double* p, double* ds,
                                       const double* D, double scale));

// The kernels (csrc/cpu/attention.cpp). mask may be null; backward's dq, dk, dv may each be null (not
// asked for).
template <typename T>
void attention_forward(const AttentionDims& d, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse);
template <typename T>
void attention_backward(const AttentionDims& d, const T* g, const T* q, const T* k, const T* v, const T* out,
                        const T* lse, const T* mask, T* dq, T* dk, T* dv);

}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/attention.cu), on the caller's stream. attention_workspace: the
// elements of T the workspace needs (forward: the scores; backward: scores, dP and D).
namespace pyengine::cuda {
index_t attention_workspace(const AttentionDims& d, bool backward);
template <typename T>
void attention_forward(const AttentionDims& d, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse,
                       T* workspace, cudaStream_t stream);
template <typename T>
void attention_backward(const AttentionDims& d, const T* g, const T* q, const T* k, const T* v, const T* out,
                        const T* lse, const T* mask, T* dq, T* dk, T* dv, T* workspace, cudaStream_t stream);
}  // namespace pyengine::cuda
