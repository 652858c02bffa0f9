"""The argument contract the gated recurrent families share, as the oracle checks it: the LSTM
(reference/lstm.py, K = 4 gate blocks i f g o) and the GRU (reference/gru.py, K = 3 blocks r z n).

x (N, I) for a cell, (T, N, I) for a sequence; states and their gradients (N, H); w_hh (K·H, H) with
H >= 1; w_ih (K·H, I); b_ih, b_hh (K·H,) or None; `saved` the forward's tuple. The messages are the
C++ bindings' (csrc/include/pyengine/recurrent.h), word for word: the bad-input tests compare them.
"""
from __future__ import annotations

from ._checks import check_float_array, check_same_dtype, check_shape


def check_state(fn: str, name: str, a, x, n: int, hidden: int, optional: bool = False) -> None:
    """A state or its gradient: (N, H) of x's dtype (None allowed when optional)."""
    if a is None and optional:
        return
    check_float_array(fn, name, a, 2)
    check_same_dtype(fn, "x", x, **{name: a})
    check_shape(fn, name, a, (n, hidden))


def check_weights(fn: str, gates: int, x, features: int, w_ih, w_hh, b_ih=None, b_hh=None) -> int:
    """Returns H after checking w_hh (K·H, H), w_ih (K·H, I) against x's I, biases (K·H,); K = gates."""
    check_float_array(fn, "w_ih", w_ih, 2)
    check_same_dtype(fn, "x", x, w_ih=w_ih)
    check_float_array(fn, "w_hh", w_hh, 2)
    check_same_dtype(fn, "x", x, w_hh=w_hh)
    hidden = w_hh.shape[1]
    kh = f"{gates}*H"
    if hidden < 1 or w_hh.shape[0] != gates * hidden:
        raise ValueError(f"{fn}: w_hh must have shape ({kh}, H) with H >= 1, got {tuple(w_hh.shape)}")
    if w_ih.shape[0] != gates * hidden:
        raise ValueError(f"{fn}: w_ih must have {kh} = {gates * hidden} rows (H = {hidden} from w_hh), "
                         f"got shape {tuple(w_ih.shape)}")
    if w_ih.shape[1] != features:
        raise ValueError(f"{fn}: w_ih expects {w_ih.shape[1]} input features, x has {features}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None:
            check_float_array(fn, name, b, 1)
            check_same_dtype(fn, "x", x, **{name: b})
            check_shape(fn, name, b, (gates * hidden,))
    return hidden


def check_saved(fn: str, saved, x, shapes: tuple, names: tuple) -> None:
    """The forward's saved tuple, entry k labelled "saved[k] (name)" and checked against shapes[k]."""
    if not isinstance(saved, tuple) or len(saved) != len(shapes):
        got = f"a tuple of length {len(saved)}" if isinstance(saved, tuple) else type(saved).__name__
        raise TypeError(f"{fn}: saved must be the tuple of {len(shapes)} arrays returned by the forward, got {got}")
    for k, (a, shape, name) in enumerate(zip(saved, shapes, names)):
        label = f"saved[{k}] ({name})"
        check_float_array(fn, label, a, len(shape))
        check_same_dtype(fn, "x", x, **{label: a})
        check_shape(fn, label, a, shape)
