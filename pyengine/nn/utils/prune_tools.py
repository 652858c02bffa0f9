"""What pruning is for, on top of the PyTorch API of prune.py: prune-and-retrain, structured channel
pruning that physically shrinks the network, and a compressed sparse file.

* ``prune_and_retrain`` (Han et al. 2015, "Learning both Weights and Connections"): prune the
  smallest-magnitude weights of every Conv2d/Linear together (``global_unstructured`` with L1),
  retrain the survivors, repeat. Step s keeps (1 − target)^(s/steps) of the weights, so each step
  prunes the same fraction of what is left; the masks keep pruned weights at zero while training.
* ``prune_channels`` zeroes whole output channels of a Conv2d (the Ln norm of each filter, as
  ``ln_structured`` along dim 0) and the same channels of its bias and of the BatchNorm after it,
  so those channels output exactly 0; ``shrink`` then removes every channel that provably outputs
  0 (zero filter and bias, and a batch norm / activation that keeps it 0) from the convolution, the
  batch norm, and the inputs of the next Conv2d or (after Flatten) Linear: the model gets smaller and
  faster and computes the same function.
* ``save_sparse`` / ``load_sparse``: a safetensors file where every tensor with at least half of
  its entries zero is stored as a bitmap of the non-zeros (1 bit per entry) plus their float values
  (``<name>.bitmap``, ``<name>.values``, the shape in the header); loading restores every bit.
"""
from __future__ import annotations

import json
import math

import numpy as np

from ...tensor import Tensor, _wrap

__all__ = ["prunable_parameters", "count_nonzero", "prune_and_retrain", "prune_channels", "shrink",
           "save_sparse", "load_sparse"]


def prunable_parameters(model):
    """(module, 'weight') for every Conv2d and Linear of the model, in module order."""
    from ..layers import Conv2d, Linear
    return [(m, "weight") for m in model.modules() if isinstance(m, (Conv2d, Linear))]


def count_nonzero(model) -> tuple[int, int]:
    """(non-zero, total) entries of the Conv2d/Linear weights (masks applied)."""
    nz = total = 0
    for m, name in prunable_parameters(model):
        w = getattr(m, name)._data
        nz += int(np.count_nonzero(w))
        total += int(w.size)
    return nz, total


def prune_and_retrain(model, retrain, evaluate, target: float = 0.9, steps: int = 5, parameters=None,
                      schedule=None):
    """Iterative magnitude pruning with retraining; returns one record per step.

    retrain(model) trains the (masked) model in place (a few epochs of fit); evaluate(model) returns
    the validation accuracy. schedule: the fractions of weights kept after each step (decreasing),
    instead of the geometric one of target and steps. Each record: {'step', 'kept' (fraction of weights non-zero),
    'accuracy_pruned' (right after pruning), 'accuracy' (after retraining)}. The masks stay on the
    model (``remove`` makes them permanent)."""
    from . import prune as P
    if schedule is None:
        if not 0.0 < float(target) < 1.0:
            raise ValueError(f"prune_and_retrain: target must be in (0, 1), got {target}")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"prune_and_retrain: steps must be an int >= 1, got {steps!r}")
        schedule = [(1.0 - target) ** (s / steps) for s in range(1, steps + 1)]
    schedule = [float(k) for k in schedule]
    if not schedule or any(not 0.0 < k <= 1.0 for k in schedule) or any(b > a for a, b in zip(schedule, schedule[1:])):
        raise ValueError(f"prune_and_retrain: schedule must be decreasing fractions in (0, 1], got {schedule}")
    params = list(parameters) if parameters is not None else prunable_parameters(model)
    total = sum(getattr(m, n).numel() for m, n in params)
    records = []
    for s, keep in enumerate(schedule, 1):
        nz_now = sum(int(np.count_nonzero(getattr(m, n)._data)) for m, n in params)
        amount = max(0, min(nz_now, nz_now - int(round(keep * total))))
        P.global_unstructured(params, pruning_method=P.L1Unstructured, amount=amount)
        pruned_acc = float(evaluate(model))
        retrain(model)
        kept = sum(int(np.count_nonzero(getattr(m, n)._data)) for m, n in params) / total
        records.append({"step": s, "kept": kept, "accuracy_pruned": pruned_acc, "accuracy": float(evaluate(model))})
    return records


def prune_channels(conv, amount, n=1, bn=None):
    """Prunes amount (fraction or count) of conv's output channels of smallest Ln filter norm and
    the same channels of conv.bias and of bn (weight and bias), so they output exactly 0."""
    from . import prune as P
    P.ln_structured(conv, "weight", amount, n=n, dim=0)
    keep = conv.weight_mask._data.reshape(conv.weight_mask.shape[0], -1).max(axis=1)
    if conv.bias is not None:
        P.custom_from_mask(conv, "bias", keep.astype(conv.bias._data.dtype))
    if bn is not None and bn.weight is not None:
        P.custom_from_mask(bn, "weight", keep.astype(bn.weight._data.dtype))
        P.custom_from_mask(bn, "bias", keep.astype(bn.bias._data.dtype))
    return conv


def _make_permanent(model):
    from . import prune as P
    for m in model.modules():
        for hook in [h for h in list(m._forward_pre_hooks.values()) if isinstance(h, P.BasePruningMethod)]:
            P.remove(m, hook._tensor_name)


def _trace(model, example):
    """The leaf modules in the order the forward calls them, with their input and output shapes."""
    from ...autograd.grad_mode import no_grad
    order, handles = [], []
    for m in model.modules():
        if not m._modules:
            handles.append(m.register_forward_hook(
                lambda mod, args, out: order.append((mod, tuple(args[0].shape), tuple(out.shape)))))
    was = model.training
    model.eval()
    try:
        with no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    return order


def _dead_channels(conv, between):
    """Output channels of conv whose value after the modules `between` is exactly 0 for any input."""
    from ..layers import BatchNorm2d, ReLU, ReLU6
    w = conv.weight._data.reshape(conv.out_channels, -1)
    const = np.zeros(conv.out_channels) if conv.bias is None else conv.bias._data.astype(np.float64)
    dead = ~np.any(w != 0, axis=1)
    for m in between:
        if isinstance(m, BatchNorm2d):
            g = np.ones(m.num_features) if m.weight is None else m.weight._data.astype(np.float64)
            b = np.zeros(m.num_features) if m.bias is None else m.bias._data.astype(np.float64)
            const = g * (const - m.running_mean._data) / np.sqrt(m.running_var._data + m.eps) + b
        elif isinstance(m, (ReLU, ReLU6)):
            const = np.maximum(const, 0)
    return dead & (const == 0)


def shrink(model, example_input):
    """Removes the output channels of each Conv2d that provably output 0 (see the module docstring)
    along with their batch-norm entries and the matching inputs of the next Conv2d or Linear. The
    model must run its layers as a chain (Sequential, or a module calling its layers in order, like
    the zoo's digit_cnn); example_input (a Tensor with the input's shape) traces that chain.
    Pruning is made permanent first. Returns the model, changed in place, and a dict of
    {conv name: (channels before, after)}."""
    from ..layers import (AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Identity, Linear, MaxPool2d, ReLU,
                          ReLU6)
    passthrough = (BatchNorm2d, ReLU, ReLU6, MaxPool2d, AvgPool2d, Identity, Dropout, Flatten)
    if not isinstance(example_input, Tensor):
        raise TypeError(f"shrink: example_input must be a Tensor, got {type(example_input).__name__}")
    _make_permanent(model)
    names = {id(m): n for n, m in model.named_modules()}
    chain = _trace(model, example_input)
    report = {}
    for i, (conv, _, out_shape) in enumerate(chain):
        if type(conv) is not Conv2d or conv.groups != 1:
            continue
        j, between = i + 1, []
        while j < len(chain) and isinstance(chain[j][0], passthrough):
            between.append(chain[j][0])
            j += 1
        if j >= len(chain) or (type(chain[j][0]) is Conv2d and chain[j][0].groups != 1) or \
                type(chain[j][0]) not in (Conv2d, Linear):
            continue
        nxt = chain[j][0]
        flattened = any(isinstance(m, Flatten) for m in between)
        if isinstance(nxt, Linear) and not flattened:
            continue
        keep = ~_dead_channels(conv, between)
        if keep.all() or not keep.any():
            continue
        idx = np.flatnonzero(keep)
        before = conv.out_channels
        conv.weight._data = np.ascontiguousarray(conv.weight._data[idx])
        if conv.bias is not None:
            conv.bias._data = np.ascontiguousarray(conv.bias._data[idx])
        conv.out_channels = len(idx)
        for m in between:
            if isinstance(m, BatchNorm2d):
                for t in (m.weight, m.bias, m.running_mean, m.running_var):
                    if t is not None:
                        t._data = np.ascontiguousarray(t._data[idx])
                m.num_features = len(idx)
        if isinstance(nxt, Conv2d):
            nxt.weight._data = np.ascontiguousarray(nxt.weight._data[:, idx])
            nxt.in_channels = len(idx)
        else:
            per = nxt.in_features // before          # the features of one channel after Flatten
            cols = (idx[:, None] * per + np.arange(per)[None, :]).reshape(-1)
            nxt.weight._data = np.ascontiguousarray(nxt.weight._data[:, cols])
            nxt.in_features = len(cols)
        for p in (conv.weight, conv.bias, nxt.weight):
            if p is not None:
                p.grad = None
        report[names.get(id(conv), type(conv).__name__)] = (before, len(idx))
    return model, report


def save_sparse(model_or_state, path, threshold: float = 0.5) -> dict:
    """Writes the state dict with every float tensor whose fraction of zeros is ≥ threshold as
    bitmap + values (see the module docstring); others as they are. Atomic. Returns
    {'bytes_tensors': …, 'dense_bytes': …} (the tensor payload sizes, sparse and dense)."""
    from ...io.safetensors_io import save_file
    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    tensors, layout, sparse_bytes, dense_bytes = {}, {}, 0, 0
    for k, v in state.items():
        a = v._data if isinstance(v, Tensor) else np.asarray(v)
        a = a if a.flags.c_contiguous else a.copy(order="C")     # (ascontiguousarray makes 0-d arrays 1-d)
        dense_bytes += a.nbytes
        if a.dtype.kind == "f" and a.size >= 64 and np.count_nonzero(a) <= (1 - threshold) * a.size:
            flat = a.reshape(-1)
            nz = flat != 0
            tensors[k + ".bitmap"] = np.packbits(nz)
            tensors[k + ".values"] = flat[nz]
            layout[k] = {"shape": list(a.shape), "dtype": a.dtype.name}
            sparse_bytes += tensors[k + ".bitmap"].nbytes + tensors[k + ".values"].nbytes
        else:
            tensors[k] = a
            sparse_bytes += a.nbytes
    save_file(tensors, path, metadata={"pyengine.sparse": json.dumps(layout)})
    return {"bytes_tensors": sparse_bytes, "dense_bytes": dense_bytes}


def load_sparse(path) -> dict:
    """The state dict of a save_sparse file (name → Tensor), every value restored exactly."""
    from ...io.safetensors_io import CorruptFileError, load_file
    arrays, meta = load_file(path, with_metadata=True)
    try:
        layout = json.loads((meta or {}).get("pyengine.sparse", "{}"))
    except json.JSONDecodeError as e:
        raise CorruptFileError(f"load_sparse: {path}: the sparse layout in the header is not valid JSON ({e})") from e
    out = {}
    for k, spec in layout.items():
        try:
            bitmap, values = arrays.pop(k + ".bitmap"), arrays.pop(k + ".values")
            shape, dtype = tuple(int(s) for s in spec["shape"]), np.dtype(spec["dtype"])
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptFileError(f"load_sparse: {path}: tensor {k!r} has an incomplete sparse entry ({e})") from e
        n = int(math.prod(shape))
        nz = np.unpackbits(bitmap, count=n).astype(bool) if bitmap.size * 8 >= n else None
        if nz is None or int(nz.sum()) != values.size or values.dtype != dtype:
            raise CorruptFileError(f"load_sparse: {path}: tensor {k!r}: the bitmap and values do not agree")
        flat = np.zeros(n, dtype)
        flat[nz] = values
        out[k] = _wrap(flat.reshape(shape))
    for k, a in arrays.items():
        out[k] = _wrap(a)
    return out
