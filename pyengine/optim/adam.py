"""Adam (with AMSGrad) and AdamW (decoupled weight decay)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_number

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected first and second moments; amsgrad keeps the running max of
    the second moment; weight_decay is L2 (added to the gradient)."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _check_group(self, g):
        name = type(self).__name__
        check_number(name, "lr", g["lr"], 0.0)
        check_number(name, "eps", g["eps"], 0.0)
        if len(g["betas"]) != 2:
            raise ValueError(f"{name}: betas must be a pair, got {g['betas']!r}")
        check_number(name, "beta parameter at index 0", g["betas"][0], 0.0, 1.0, open_max=True)
        check_number(name, "beta parameter at index 1", g["betas"][1], 0.0, 1.0, open_max=True)
        check_number(name, "weight_decay", g["weight_decay"], 0.0)

    def _update(self, g, param, grad, state, kernels):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if g["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        beta1, beta2 = g["betas"]
        kernels.adam_step(param, grad, state["exp_avg"], state["exp_avg_sq"],
                          state.get("max_exp_avg_sq") if g["amsgrad"] else None, step=int(state["step"]),
                          lr=g["lr"], beta1=beta1, beta2=beta2, eps=g["eps"], weight_decay=g["weight_decay"],
                          decoupled_weight_decay=self._decoupled, maximize=g["maximize"])


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay, p ← p·(1 − lr·weight_decay) before the step."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
