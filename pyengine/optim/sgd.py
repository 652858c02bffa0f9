"""SGD with momentum, dampening, Nesterov and L2 weight decay (the "sgdm" solver)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_number

__all__ = ["SGD"]


class SGD(Optimizer):
    """torch.optim.SGD: buf ← momentum·buf + (1 − dampening)·g (g on the first step);
    p ← p − lr·(nesterov ? g + momentum·buf : buf), with g = grad + weight_decay·p."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _check_group(self, g):
        check_number("SGD", "lr", g["lr"], 0.0)
        check_number("SGD", "momentum", g["momentum"], 0.0)
        check_number("SGD", "dampening", g["dampening"])
        check_number("SGD", "weight_decay", g["weight_decay"], 0.0)
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _update(self, g, param, grad, state, kernels):
        buf = state.get("momentum_buffer")
        first = False
        if g["momentum"] != 0 and buf is None:
            buf = state["momentum_buffer"] = np.empty_like(param)
            first = True
        kernels.sgd_step(param, grad, buf, lr=g["lr"], momentum=g["momentum"], dampening=g["dampening"],
                         weight_decay=g["weight_decay"], nesterov=g["nesterov"], maximize=g["maximize"],
                         first_step=first)
