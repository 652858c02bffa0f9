"""RMSprop (alpha, momentum, centered)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """torch.optim.RMSprop: v ← alpha·v + (1 − alpha)·g²; p ← p − lr·g/(√v + eps), centered subtracts
    the squared running mean of g inside the root; momentum accumulates g/(√v + eps)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check_group(self, g):
        check_number("RMSprop", "lr", g["lr"], 0.0)
        check_number("RMSprop", "alpha", g["alpha"], 0.0, 1.0)
        check_number("RMSprop", "eps", g["eps"], 0.0)
        check_number("RMSprop", "momentum", g["momentum"], 0.0)
        check_number("RMSprop", "weight_decay", g["weight_decay"], 0.0)

    def _update(self, g, param, grad, state, kernels):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if g["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if g["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1
        kernels.rmsprop_step(param, grad, state["square_avg"],
                             state.get("momentum_buffer") if g["momentum"] > 0 else None,
                             state.get("grad_avg") if g["centered"] else None, lr=g["lr"], alpha=g["alpha"],
                             eps=g["eps"], weight_decay=g["weight_decay"], momentum=g["momentum"],
                             maximize=g["maximize"])
