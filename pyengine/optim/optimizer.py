"""Optimizer: parameter groups, per-parameter state, zero_grad, state_dict — PyTorch's shape.

A subclass implements ``_update(group, param_array, grad_array, state)`` with one call of its fused
kernel (pyengine.kernels.cpu.<name>_step on NumPy storage). Parameters are pyengine Tensors: the
update reads ``p.grad._data`` and writes ``p._data`` in place, so views of the weights (a
state_dict, a model file being written) always see the current values.
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Callable

import numpy as np

__all__ = ["Optimizer", "required"]


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _array(t):
    """The storage array of a Tensor (or the array itself)."""
    return t._data if hasattr(t, "_data") else t


def _kernels_for(arr):
    """The kernel module for an array's device: C++ on NumPy storage, CUDA on CuPy storage."""
    if isinstance(arr, np.ndarray):
        from ..kernels import cpu
        return cpu
    from ..kernels import cuda  # noqa: F401 - raises a clear ImportError without a CUDA build
    return cuda


class _ParamState(dict):
    """``optimizer.state[p]``: per-parameter dicts keyed by the parameter's identity (a Tensor may
    define ``__eq__`` element-wise, so it is not used as a dict key itself)."""

    def __init__(self):
        super().__init__()
        self._params: dict[int, Any] = {}

    def __getitem__(self, p):
        key = id(p)
        if key not in self._params:
            self._params[key] = p
            super().__setitem__(key, {})
        return super().__getitem__(key)

    def __contains__(self, p):
        return id(p) in self._params

    def clear(self):
        super().clear()
        self._params.clear()


def check_number(cls: str, name: str, value, minimum=None, maximum=None, open_max=False) -> float:
    """Constructor argument check with PyTorch-like wording: ``SGD: invalid lr -0.1 (must be >= 0)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{cls}: invalid {name} {value!r} (must be a finite number)")
    value = float(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{cls}: invalid {name} {value} (must be >= {minimum})")
    if maximum is not None and (value >= maximum if open_max else value > maximum):
        raise ValueError(f"{cls}: invalid {name} {value} (must be {'<' if open_max else '<='} {maximum})")
    return value


class Optimizer:
    """Base class. ``params`` is an iterable of Tensors or of dicts (parameter groups) whose keys
    override ``defaults`` for that group, e.g. ``SGD([{"params": body}, {"params": head, "lr": 0.1}])``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state = _ParamState()
        self.param_groups: list[dict] = []
        if hasattr(params, "_data"):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if hasattr(params, "_data") else list(params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"{type(self).__name__}: parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        self._check_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not hasattr(p, "_data"):
                raise TypeError(f"{type(self).__name__}: can only optimize Tensors, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
            seen.add(id(p))
        self.param_groups.append(group)
        self._init_group_state(group)

    def _check_group(self, group: dict) -> None:
        """Validates a group's hyper-parameters (subclasses)."""

    def _init_group_state(self, group: dict) -> None:
        """Creates state eagerly where PyTorch does (Adagrad's sum)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drops every gradient (``p.grad = None``), or zeroes it in place with set_to_none=False."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    _array(p.grad)[...] = 0

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns closure() when given."""
        loss = None
        if closure is not None:
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                arr = _array(p)
                grad = _array(p.grad)
                if grad.dtype != arr.dtype:
                    grad = grad.astype(arr.dtype)
                self._update(group, arr, grad, self.state[p], _kernels_for(arr))
                bump = getattr(p, "_bump_version", None)
                if bump is not None:      # an in-place update, as PyTorch counts it: a graph that saved p sees it
                    bump()
        return loss

    def _update(self, group, param, grad, state, kernels):  # pragma: no cover - abstract
        raise NotImplementedError

    # Serialisation: parameters are referred to by their position over all groups, as in PyTorch.
    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or number}}, "param_groups": [{..., "params": [index]}]}``;
        arrays are copies."""
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores state saved by state_dict() into an optimizer over parameters of the same shapes."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: saved state has {len(groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        for saved, mine in zip(groups, self.param_groups):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: a saved parameter group has "
                                 f"{len(saved['params'])} parameters, this one has {len(mine['params'])}")
        id_map = {int(i): p for saved, mine in zip(groups, self.param_groups)
                  for i, p in zip(saved["params"], mine["params"])}
        new_state = _ParamState()
        for key, value in state_dict["state"].items():
            p = id_map.get(int(key))
            if p is None:
                continue
            arr = _array(p)
            restored = {}
            for k, v in value.items():
                if isinstance(v, np.ndarray):
                    if v.shape != arr.shape:
                        raise ValueError(f"{type(self).__name__}.load_state_dict: state {k!r} of parameter {key} "
                                         f"has shape {v.shape}, the parameter has {arr.shape}")
                    restored[k] = np.array(v, dtype=arr.dtype, order="C")
                else:
                    restored[k] = v
            new_state[p].update(restored)
        for saved, mine in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])
