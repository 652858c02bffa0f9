"""Connectionist temporal classification loss (torch's F.ctc_loss) as an autograd Function over the
ctc_loss kernels (pyengine.kernels.cpu / .cuda; the recursions and shapes are in
csrc/include/pyengine/ctc_loss.h and pyengine/reference/ctc_loss.py).

log_probs (T, N, C) → the per-sample negative log-likelihood (N,). The forward keeps log_alpha (N, T,
2·max L + 1) for the backward, which runs β and returns the exact gradient with respect to log_probs
(0 past each input length and for an infinite loss). torch's CTC backward returns instead the
gradient it would have if log_probs were the output of log_softmax (it adds exp(lp)·g, a term that
log_softmax's backward cancels): the two agree on the gradient of the logits under log_softmax, the
way CTC is used; on raw log_probs they differ by that term.
"""
from __future__ import annotations

from .core import Function
from .device import kernels_of

__all__ = ["CtcLoss"]


class CtcLoss(Function):
    """log_probs (T, N, C) → nll (N,); targets (N, S) or (ΣL,) and the lengths (N,) are int64 arrays on
    log_probs' device, blank and zero_infinity plain values."""
    name = "ctc_loss"
    torch_name = "CtcLossBackward0"

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        K = kernels_of(log_probs)
        nll, log_alpha = K.ctc_loss_forward(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
        if ctx.needs_input_grad[0]:
            ctx.saved = (log_probs, targets, input_lengths, target_lengths, log_alpha)
            ctx.K, ctx.blank = K, blank
        return nll

    @staticmethod
    def backward(ctx, g):
        lp, targets, il, tl, log_alpha = ctx.saved
        return ctx.K.ctc_loss_backward(g, lp, targets, il, tl, log_alpha, ctx.blank)
