// pyengine/ctc_loss.h — connectionist temporal classification loss (torch's F.ctc_loss, reduction 'none').
//
// Shapes: log_probs (T, N, C) — per time step log-probabilities over C classes (class `blank` the blank);
// targets int64 padded (N, S) or the N sequences concatenated (Σ target_lengths,); input_lengths (N,) and
// target_lengths (N,) int64. Sample n has T_n = input_lengths[n] ≤ T steps and the target l = l_1 … l_L,
// L = target_lengths[n], read from targets at offset[n] (n·S padded, Σ_{m<n} L_m concatenated). Its
// extended labels l' = (blank, l_1, blank, l_2, …, l_L, blank) have length 2L + 1; SP = 2·max_n L_n + 1.
//
// Forward (log space; lse = log-sum-exp, −inf when every term is −inf), over t < T_n:
//   α[0, 0] = lp[0, blank],  α[0, 1] = lp[0, l_1],  α[0, s > 1] = −∞
//   α[t, s] = lp[t, l'_s] + lse(α[t−1, s], α[t−1, s−1], α[t−1, s−2] if l'_s ≠ blank and l'_s ≠ l'_{s−2})
//   nll_n   = −lse(α[T_n − 1, 2L], α[T_n − 1, 2L − 1])      (T_n = 0: 0 when L = 0, else +∞)
// Outputs written: nll (N,), log_alpha (N, T, SP) — α, −∞ outside t < T_n, s ≤ 2L.
//
// Backward (reads log_alpha, not nll: a loss that zero_infinity wrote as 0 is found infinite again from α):
// β the same recursion run from the end (β[T_n−1, 2L] = lp[T_n−1, blank], β[T_n−1, 2L−1] =
// lp[T_n−1, l_L], β[t, s] = lp[t, l'_s] + lse(β[t+1, s], β[t+1, s+1], β[t+1, s+2] when the skip s → s+2
// is allowed)); α + β counts lp[t, l'_s] twice, so
//   grad_log_probs[t, n, c] = −g_n · exp(lse_{s: l'_s = c}(α[t, s] + β[t, s]) − lp[t, n, c] + nll_n)
// for t < T_n (0 for t ≥ T_n and for classes not in l'), g = grad_output (N,). This is the exact
// gradient with respect to log_probs. torch's returns the gradient it would have were log_probs a
// log_softmax output (it adds exp(lp)·g_n); the two agree on the logits' gradient through log_softmax.
// A sample whose nll is +∞ (no alignment fits in T_n steps) gets a zero gradient; with zero_infinity its
// nll is written 0 too. Written, never accumulated.
//
// Algorithm, CPU (csrc/cpu/ctc_loss.cpp): samples over threads; per sample the α recursion into
// log_alpha, the β recursion into a per-thread (T_n, 2L+1) scratch, then per t the lse over s of each
// class's α + β (a C-long scratch) and one pass over c. Arithmetic in the input's dtype, like torch's.
// CUDA (csrc/cuda/ctc_loss.cu): one block per sample, threads over s for α and β (one time step per
// barrier), threads over c for the gradient.
#pragma once
#include <cstdint>

#include "pyengine/common.h"

namespace pyengine {
struct CtcDims {
  index_t T, N, C;   // log_probs (T, N, C)
  index_t SP;        // 2·max(target_lengths) + 1, the last dimension of log_alpha
  index_t blank;
};
}  // namespace pyengine

#if !defined(PYENGINE_ISA) && !defined(__CUDACC__)
#include <vector>

#include "pyengine/check.h"

// The contract (csrc/bindings/bind_ctc_loss.cpp, both devices), with the reference's messages.
// ctc_dims checks the arrays' dtypes and shapes; ctc_values the lengths and labels themselves (host
// copies) and returns each sample's offset into targets.
namespace pyengine::contract {

inline CtcDims ctc_dims(const char* fn, const Array& lp, const Array& targets, const Array& il, const Array& tl,
                        index_t blank) {
  float_array(fn, lp, 3);
  const index_t T = lp.dim(0), N = lp.dim(1), C = lp.dim(2);
  exact_dtype(fn, targets, DType::i64);
  exact_dtype(fn, il, DType::i64);
  exact_dtype(fn, tl, DType::i64);
  if (il.shape != std::vector<index_t>{N})
    value_error(fn, ": input_lengths must have shape (N,) = (", N, ",), got ", shape_str(il.shape));
  if (tl.shape != std::vector<index_t>{N})
    value_error(fn, ": target_lengths must have shape (N,) = (", N, ",), got ", shape_str(tl.shape));
  if (targets.ndim() == 2) {
    if (targets.dim(0) != N)
      value_error(fn, ": padded targets must have shape (N, S) with N = ", N, ", got ", shape_str(targets.shape));
  } else if (targets.ndim() != 1) {
    value_error(fn, ": targets must be 2-D (N, S) padded or 1-D concatenated, got shape ", shape_str(targets.shape));
  }
  if (blank < 0 || blank >= C) value_error(fn, ": blank must be a class index in [0, ", C, "), got ", blank);
  return {T, N, C, 1, blank};
}

// log_alpha's first two sizes (its last one, SP, needs the lengths' values).
inline void ctc_alpha_rows(const char* fn, const Array& alpha, const CtcDims& d) {
  if (alpha.dim(0) != d.N || alpha.dim(1) != d.T)
    value_error(fn, ": log_alpha must have shape (N, T, 2*max(target_lengths)+1) with (N, T) = (", d.N, ", ", d.T,
                "), got ", shape_str(alpha.shape));
}

// Checks the values (host copies of input_lengths, target_lengths and targets), sets d.SP and
// returns the offset of each sample's labels in targets.
inline std::vector<index_t> ctc_values(const char* fn, CtcDims& d, const Array& targets, const std::int64_t* il,
                                       const std::int64_t* tl, const std::int64_t* tg) {
  index_t lmax = 0, total = 0;
  for (index_t n = 0; n < d.N; ++n) {
    if (il[n] < 0 || il[n] > d.T)
      value_error(fn, ": input_lengths must be in [0, T] = [0, ", d.T, "], got ", il[n], " for batch element ", n);
    if (tl[n] < 0) value_error(fn, ": target_lengths must be >= 0, got ", tl[n], " for batch element ", n);
    lmax = tl[n] > lmax ? tl[n] : lmax;
    total = checked_add(fn, "sum(target_lengths)", total, tl[n]);
  }
  std::vector<index_t> offset(static_cast<size_t>(d.N));
  if (targets.ndim() == 2) {
    if (lmax > targets.dim(1))
      value_error(fn, ": target_lengths (max ", lmax, ") exceed the padded targets' length ", targets.dim(1));
    for (index_t n = 0; n < d.N; ++n) offset[static_cast<size_t>(n)] = n * targets.dim(1);
  } else {
    if (total != targets.dim(0))
      value_error(fn, ": concatenated targets must have sum(target_lengths) = ", total, " entries, got ",
                  targets.dim(0));
    index_t o = 0;
    for (index_t n = 0; n < d.N; ++n) {
      offset[static_cast<size_t>(n)] = o;
      o += tl[n];
    }
  }
  for (index_t n = 0; n < d.N; ++n)
    for (index_t k = 0; k < tl[n]; ++k) {
      const std::int64_t c = tg[offset[static_cast<size_t>(n)] + k];
      if (c < 0 || c >= d.C || c == d.blank)
        value_error(fn, ": targets must be class indices in [0, ", d.C, ") other than blank (", d.blank, "), got ",
                    c, " at position ", k, " of batch element ", n);
    }
  d.SP = checked_add(fn, "2*max(target_lengths)+1", checked_mul(fn, "2*max(target_lengths)", 2, lmax), 1);
  checked_numel(fn, "log_alpha shape", {d.N, d.T, d.SP});
  return offset;
}

}  // namespace pyengine::contract
#endif

#if !defined(__CUDACC__)
namespace pyengine::cpu {

// forward: writes nll (N,) and log_alpha (N, T, SP). backward: reads log_alpha, writes grad (T, N, C).
// offset (N,) is each sample's first label in targets (the contract's ctc_values).
template <typename T>
void ctc_loss_forward(const CtcDims& d, const T* log_probs, const std::int64_t* targets, const index_t* offset,
                      const std::int64_t* input_lengths, const std::int64_t* target_lengths, bool zero_infinity,
                      T* nll, T* log_alpha);
template <typename T>
void ctc_loss_backward(const CtcDims& d, const T* grad_output, const T* log_probs, const std::int64_t* targets,
                       const index_t* offset, const std::int64_t* input_lengths, const std::int64_t* target_lengths,
                       const T* log_alpha, T* grad);

}  // namespace pyengine::cpu
#endif

// The CUDA launchers (csrc/cuda/ctc_loss.cu), on the caller's stream; every pointer is device memory
// (offset included, uploaded by the binding). ctc_loss_backward_workspace: the elements of T the
// backward needs for β, N·T·SP.
namespace pyengine::cuda {
template <typename T>
void ctc_loss_forward(const CtcDims& d, const T* log_probs, const std::int64_t* targets, const std::int64_t* offset,
                      const std::int64_t* input_lengths, const std::int64_t* target_lengths, bool zero_infinity,
                      T* nll, T* log_alpha, cudaStream_t stream);
template <typename T>
void ctc_loss_backward(const CtcDims& d, const T* grad_output, const T* log_probs, const std::int64_t* targets,
                       const std::int64_t* offset, const std::int64_t* input_lengths,
                       const std::int64_t* target_lengths, const T* log_alpha, T* grad, T* beta,
                       cudaStream_t stream);
// n int64s between host and device on the stream; copy_to_host waits for it (the binding checks the
// lengths and labels on the host before any kernel runs).
void ctc_copy_to_host(std::int64_t* host, const std::int64_t* device, index_t n, cudaStream_t stream);
void ctc_copy_to_device(std::int64_t* device, const std::int64_t* host, index_t n, cudaStream_t stream);
}  // namespace pyengine::cuda
