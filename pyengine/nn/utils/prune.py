"""pyengine.nn.utils.prune — PyTorch's pruning API and mechanics (torch.nn.utils.prune).

Pruning parameter ``name`` of a module reparameterises it, exactly as PyTorch does:

* the Parameter is moved to ``name + "_orig"`` (the same object, so an optimizer keeps training it);
* a buffer ``name + "_mask"`` (same dtype and shape, 1 = kept, 0 = pruned) is registered;
* ``name`` becomes a plain attribute ``orig * mask`` — differentiable, so the gradient reaches
  ``name_orig`` with the pruned entries zeroed — recomputed by a forward pre-hook before each call;
* pruning the same parameter again combines the masks in a ``PruningContainer``: the new method
  only sees the entries (unstructured) or channels (structured) that are still unpruned, so
  ``amount`` is a fraction of what remains;
* ``remove`` makes it permanent: ``name`` is a Parameter again holding ``orig * mask``, and
  ``name_orig`` / ``name_mask`` disappear.

State-dict keys follow from this (``bias, weight_orig, weight_mask`` for a pruned Conv2d, in that
order, as in torch). How many entries a float ``amount`` prunes is ``round(amount · n)`` (Python's
round, half to even), an int prunes that many. L1 pruning removes the entries of smallest |w|;
Ln-structured pruning keeps the channels (slices along ``dim``) of largest Ln norm over the other
dims. Ties are broken towards the lowest flat index (PyTorch leaves them unspecified). The random
methods draw from pyengine's generator (``pyengine.manual_seed``), so their masks have the same
counts and structure as PyTorch's but not the same positions.
"""
from __future__ import annotations

import math
import numbers
from abc import ABC
from collections.abc import Iterable

import numpy as np

from ...tensor import Tensor, _wrap, default_generator

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned"]


def _arr(x):
    """The array behind a Tensor (or an array-like as a NumPy array)."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)


class BasePruningMethod(ABC):
    """A pruning rule. Subclasses set PRUNING_TYPE ('unstructured', 'structured' or 'global') and
    implement ``compute_mask(t, default_mask)`` (Tensors in, Tensor out), or ``_mask`` on arrays."""

    _tensor_name: str | None = None
    PRUNING_TYPE = "unstructured"

    def __call__(self, module, inputs):
        """The forward pre-hook: recompute ``name`` from ``name_orig`` and ``name_mask``."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    def compute_mask(self, t, default_mask):
        """The mask (same shape as t) combining default_mask with this method's pruning of t."""
        return _wrap(self._mask(_arr(t), _arr(default_mask)))

    def _mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement compute_mask or _mask")

    def apply_mask(self, module):
        """orig · mask, from the module's ``name_orig`` parameter and ``name_mask`` buffer."""
        if self._tensor_name is None:
            raise RuntimeError(f"{type(self).__name__}: the module has to be pruned before the mask is applied")
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return orig * mask

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prunes ``module.name`` with this method (built from args/kwargs) and returns the method
        (or the PruningContainer that now holds it)."""
        fn = cls.__name__
        if not isinstance(name, str):
            raise TypeError(f"{fn}: name must be a str, got {type(name).__name__}")
        hooks = getattr(module, "_forward_pre_hooks", None)
        if hooks is None:
            raise TypeError(f"{fn}: module must be a pyengine.nn.Module, got {type(module).__name__}")
        if not isinstance(getattr(module, name, None), Tensor):
            params = ", ".join(k for k, v in module._parameters.items() if v is not None) or "none"
            raise AttributeError(f"{fn}: {type(module).__name__} has no parameter {name!r} (parameters: {params})")
        old = [(k, h) for k, h in hooks.items() if isinstance(h, BasePruningMethod) and h._tensor_name == name]
        if len(old) > 1:
            raise RuntimeError(f"{fn}: more than one pruning hook on {name!r} of {type(module).__name__}; "
                               "use a PruningContainer")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        composite = method
        if old:
            old_method = old[0][1]
            if isinstance(old_method, PruningContainer):
                old_method.add_pruning_method(method)
                composite = old_method
            else:
                composite = PruningContainer(old_method)
                composite.add_pruning_method(method)
        orig = getattr(module, name)
        if importance_scores is not None:
            if tuple(_arr(importance_scores).shape) != tuple(orig.shape):
                raise ValueError(f"{fn}: importance_scores must have the shape of parameter {name!r} "
                                 f"{tuple(orig.shape)}, got {tuple(_arr(importance_scores).shape)}")
        else:
            importance_scores = orig
        first = not isinstance(composite, PruningContainer)
        order = list(module._parameters.keys())
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = np.ones_like(orig._data)
        else:
            default_mask = np.array(_arr(getattr(module, name + "_mask")), copy=True, order="C")
        try:
            mask = composite.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", mask if isinstance(mask, Tensor) else _wrap(np.asarray(mask)))
            setattr(module, name, composite.apply_mask(module))
        except Exception:
            if first:   # put the parameter back where it was (PyTorch appends it at the end)
                params = module._parameters
                params[name] = params.pop(name + "_orig")
                for k in order:
                    params.move_to_end(k)
            raise
        # The old hook goes only once the new mask is in place (a failed call leaves it pruned as before).
        for k, _ in old:
            del hooks[k]
        module.register_forward_pre_hook(composite)
        return composite

    def prune(self, t, default_mask=None, importance_scores=None):
        """t · compute_mask(importance_scores or t, default_mask or ones), as a Tensor."""
        ta = _arr(t)
        if importance_scores is not None and tuple(_arr(importance_scores).shape) != tuple(ta.shape):
            raise ValueError(f"{type(self).__name__}.prune: importance_scores must have the shape of t "
                             f"{tuple(ta.shape)}, got {tuple(_arr(importance_scores).shape)}")
        scores = t if importance_scores is None else importance_scores
        dm = np.ones_like(ta) if default_mask is None else _arr(default_mask)
        mask = _arr(self.compute_mask(scores, default_mask=dm))
        return (t if isinstance(t, Tensor) else _wrap(ta)) * _wrap(mask.astype(ta.dtype, copy=False))

    def remove(self, module) -> None:
        """Makes the pruning permanent: ``name`` becomes a Parameter holding orig · mask."""
        if self._tensor_name is None:
            raise RuntimeError(f"{type(self).__name__}: the module has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        name = self._tensor_name
        if name in module.__dict__:
            delattr(module, name)
        orig = module._parameters[name + "_orig"]
        orig.data = weight.detach()
        del module._parameters[name + "_orig"]
        del module._buffers[name + "_mask"]
        setattr(module, name, orig)


class PruningContainer(BasePruningMethod):
    """The sequence of pruning methods applied to one parameter; the mask of the last one is
    computed on what the earlier ones left (entries, channels, or everything for 'global')."""

    def __init__(self, *args):
        self._pruning_methods: tuple = ()
        if len(args) == 1 and isinstance(args[0], BasePruningMethod):
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            methods = args[0] if len(args) == 1 and isinstance(args[0], Iterable) else args
            for m in methods:
                self.add_pruning_method(m)

    def add_pruning_method(self, method) -> None:
        if method is not None and not isinstance(method, BasePruningMethod):
            raise TypeError(f"PruningContainer: {type(method).__name__} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name is None:
            self._tensor_name = method._tensor_name
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"PruningContainer: can only add pruning methods acting on the parameter named "
                             f"{self._tensor_name!r}, found {method._tensor_name!r}")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def _mask(self, t, default_mask):
        method = self._pruning_methods[-1]
        new_mask = default_mask.astype(t.dtype, copy=True)
        if method.PRUNING_TYPE == "unstructured":
            slc = default_mask == 1
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('PruningContainer: pruning methods of PRUNING_TYPE "structured" need a `dim`')
            dim = method.dim + t.ndim if method.dim < 0 else method.dim
            if not 0 <= dim < t.ndim:
                raise IndexError(f"PruningContainer: dim {method.dim} is out of range for a tensor of {t.ndim} dims")
            keep = default_mask.sum(axis=tuple(d for d in range(t.ndim) if d != dim)) != 0
            slc = tuple(keep if d == dim else slice(None) for d in range(t.ndim))
        elif method.PRUNING_TYPE == "global":
            slc = tuple(slice(None) for _ in range(t.ndim))
        else:
            raise ValueError(f"PruningContainer: unrecognised PRUNING_TYPE {method.PRUNING_TYPE!r}")
        partial = method.compute_mask(_wrap(np.ascontiguousarray(t[slc])),
                                      default_mask=_wrap(np.ascontiguousarray(default_mask[slc])))
        new_mask[slc] = _arr(partial).astype(new_mask.dtype, copy=False)
        return new_mask


def _validate_amount_init(fn, amount):
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"{fn}: amount must be an int or a float, got {type(amount).__name__} {amount!r}")
    if (isinstance(amount, numbers.Integral) and amount < 0) or \
            (not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"{fn}: amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _validate_amount(fn, amount, size):
    if isinstance(amount, numbers.Integral) and amount > size:
        raise ValueError(f"{fn}: amount={amount} should be smaller than the number of parameters to prune={size}")


def _nparams_toprune(amount, size):
    return int(amount) if isinstance(amount, numbers.Integral) else round(amount * size)


def _validate_structured(fn, t):
    if t.ndim <= 1:
        raise ValueError(f"{fn}: structured pruning can only be applied to multidimensional tensors, "
                         f"got shape {tuple(t.shape)} with {t.ndim} dims")


def _validate_dim(fn, t, dim):
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{fn}: dim must be an int, got {type(dim).__name__}")
    if not -t.ndim <= dim < t.ndim:
        raise IndexError(f"{fn}: invalid dim {dim} for a tensor of shape {tuple(t.shape)}")


def _lowest(scores: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k smallest scores, ties to the lowest index."""
    return np.argsort(scores.reshape(-1), kind="stable")[:k]


class Identity(BasePruningMethod):
    """Prunes nothing: the mask is the default mask (a way to add the reparameterisation)."""
    PRUNING_TYPE = "unstructured"

    def _mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prunes round(amount·n) entries (or amount, an int) chosen uniformly at random."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_amount_init(type(self).__name__, amount)
        self.amount = amount

    def _mask(self, t, default_mask):
        k = _nparams_toprune(self.amount, t.size)
        _validate_amount(type(self).__name__, self.amount, t.size)
        mask = np.array(default_mask, copy=True, order="C")
        if k:
            prob = default_generator.rng.random(t.size)
            mask.reshape(-1)[_lowest(-prob, k)] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the round(amount·n) entries (or amount, an int) of smallest absolute value."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_amount_init(type(self).__name__, amount)
        self.amount = amount

    def _mask(self, t, default_mask):
        k = _nparams_toprune(self.amount, t.size)
        _validate_amount(type(self).__name__, self.amount, t.size)
        mask = np.array(default_mask, copy=True, order="C")
        if k:
            mask.reshape(-1)[_lowest(np.abs(t), k)] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _channel_mask(t, dim, keep):
    """Ones on the channels (indices along dim) listed or flagged in keep, zeros elsewhere."""
    mask = np.zeros_like(t)
    slc = [slice(None)] * t.ndim
    slc[dim] = keep
    mask[tuple(slc)] = 1
    return mask


class RandomStructured(BasePruningMethod):
    """Prunes round(amount·C) whole channels along ``dim`` (C = t.shape[dim]) chosen at random."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _validate_amount_init(type(self).__name__, amount)
        self.amount = amount
        self.dim = dim

    def _mask(self, t, default_mask):
        fn = type(self).__name__
        _validate_structured(fn, t)
        _validate_dim(fn, t, self.dim)
        channels = t.shape[self.dim]
        k = _nparams_toprune(self.amount, channels)
        _validate_amount(fn, self.amount, channels)
        if k == 0:
            return default_mask
        prob = default_generator.rng.random(channels)
        keep = np.ones(channels, bool)
        keep[_lowest(prob, k)] = False
        return _channel_mask(t, self.dim, keep) * default_mask.astype(t.dtype, copy=False)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


def _norm(t, n, dim):
    """The Ln norm of t over every dim except ``dim`` (n: a number, inf, -inf or 'fro')."""
    axes = tuple(d for d in range(t.ndim) if d != (dim % t.ndim))
    a = np.abs(t.astype(np.float64))
    if n == "fro":
        n = 2
    if not isinstance(n, numbers.Real) or isinstance(n, bool):
        raise ValueError(f"LnStructured: n must be a number, inf, -inf or 'fro', got {n!r}")
    if n == math.inf:
        return a.max(axis=axes)
    if n == -math.inf:
        return a.min(axis=axes)
    if n == 0:
        return (a != 0).sum(axis=axes).astype(np.float64)
    return (a ** n).sum(axis=axes) ** (1.0 / n)


class LnStructured(BasePruningMethod):
    """Prunes the round(amount·C) channels along ``dim`` of smallest Ln norm (n as in torch.norm)."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _validate_amount_init(type(self).__name__, amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def _mask(self, t, default_mask):
        fn = type(self).__name__
        _validate_structured(fn, t)
        _validate_dim(fn, t, self.dim)
        channels = t.shape[self.dim]
        k = _nparams_toprune(self.amount, channels)
        _validate_amount(fn, self.amount, channels)
        norm = _norm(t, self.n, self.dim)
        if k == 0:
            return default_mask
        keep = _lowest(-norm, channels - k)       # the channels - k largest norms
        return _channel_mask(t, self.dim, np.sort(keep)) * default_mask.astype(t.dtype, copy=False)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where a given mask is 0 (combined with any earlier mask)."""
    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = _arr(mask)

    def _mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ValueError(f"CustomFromMask: mask has shape {tuple(self.mask.shape)} but the parameter "
                             f"has shape {tuple(default_mask.shape)}")
        return default_mask * self.mask.astype(default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


# ------------------------------------------------------------------ the functional interface
def identity(module, name):
    """Adds the pruning reparameterisation of ``module.name`` with a mask of ones. Returns module."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prunes amount (a fraction, or a count) of ``module.name``'s unpruned entries at random."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prunes amount (a fraction, or a count) of ``module.name``'s unpruned entries of smallest
    |importance_scores| (default: the parameter itself)."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prunes amount of the unpruned channels of ``module.name`` along dim, at random."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prunes amount of the unpruned channels along dim of smallest Ln norm (dim=0 on a Conv2d
    weight: whole output filters)."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prunes the (module, name) pairs together: the entries are ranked across all of them, so a
    layer with small weights loses more than one with large weights. pruning_method is an
    unstructured class (L1Unstructured, RandomUnstructured); kwargs go to it (amount=...)."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured: parameters must be an iterable of (module, name) pairs")
    parameters = list(parameters)
    importance_scores = {} if importance_scores is None else importance_scores
    if not isinstance(importance_scores, dict):
        raise TypeError(f"global_unstructured: importance_scores must be a dict, got {type(importance_scores).__name__}")
    if not (isinstance(pruning_method, type) and issubclass(pruning_method, BasePruningMethod)):
        raise TypeError(f"global_unstructured: pruning_method must be a BasePruningMethod class, got {pruning_method!r}")
    for module, name in parameters:
        if not isinstance(getattr(module, name, None), Tensor):
            raise AttributeError(f"global_unstructured: {type(module).__name__} has no parameter {name!r}")
    scores = np.concatenate([_arr(importance_scores.get((m, n), getattr(m, n))).reshape(-1) for m, n in parameters])
    default = np.concatenate([
        _arr(getattr(m, n + "_mask")).reshape(-1) if hasattr(m, n + "_mask") else np.ones(getattr(m, n).numel(),
                                                                                           _arr(getattr(m, n)).dtype)
        for m, n in parameters])
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'global_unstructured: only "unstructured" pruning methods are supported, got '
                        f"{pruning_method.__name__} of type {method.PRUNING_TYPE!r}")
    container = PruningContainer()
    container._tensor_name = method._tensor_name = "temp"
    container.add_pruning_method(method)
    final = _arr(container.compute_mask(_wrap(scores), default_mask=default))
    pointer = 0
    for module, name in parameters:
        p = getattr(module, name)
        n = p.numel()
        custom_from_mask(module, name, mask=final[pointer:pointer + n].reshape(p.shape))
        pointer += n


def custom_from_mask(module, name, mask):
    """Prunes ``module.name`` where mask (Tensor or array of its shape) is 0. Returns module."""
    CustomFromMask.apply(module, name, mask=mask)
    return module


def remove(module, name):
    """Makes the pruning of ``module.name`` permanent (see the module docstring). Returns module."""
    for k, hook in list(getattr(module, "_forward_pre_hooks", {}).items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"remove: parameter {name!r} of {type(module).__name__} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module) -> bool:
    """True when any sub-module carries a pruning hook."""
    for _, sub in module.named_modules():
        for hook in sub._forward_pre_hooks.values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False


# Prune-and-retrain, channel shrinking and the sparse file build on the API above (prune_tools.py).
from .prune_tools import (count_nonzero, load_sparse, prunable_parameters, prune_and_retrain,  # noqa: E402
                          prune_channels, save_sparse, shrink)

__all__ += ["prunable_parameters", "count_nonzero", "prune_and_retrain", "prune_channels", "shrink", "save_sparse",
            "load_sparse"]
