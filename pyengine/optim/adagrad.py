"""Adagrad (lr_decay, initial accumulator)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _array, check_number

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """torch.optim.Adagrad: s ← s + g²; p ← p − lr/(1 + (step − 1)·lr_decay) · g/(√s + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _check_group(self, g):
        check_number("Adagrad", "lr", g["lr"], 0.0)
        check_number("Adagrad", "lr_decay", g["lr_decay"], 0.0)
        check_number("Adagrad", "weight_decay", g["weight_decay"], 0.0)
        check_number("Adagrad", "initial_accumulator_value", g["initial_accumulator_value"], 0.0)
        check_number("Adagrad", "eps", g["eps"], 0.0)

    def _init_group_state(self, g):
        # PyTorch creates the accumulator at construction, so a state_dict right away already has it.
        for p in g["params"]:
            arr = _array(p)
            state = self.state[p]
            state["step"] = 0
            state["sum"] = np.full_like(arr, g["initial_accumulator_value"])

    def _update(self, g, param, grad, state, kernels):
        state["step"] += 1
        kernels.adagrad_step(param, grad, state["sum"], step=int(state["step"]), lr=g["lr"], lr_decay=g["lr_decay"],
                             weight_decay=g["weight_decay"], eps=g["eps"], maximize=g["maximize"])
