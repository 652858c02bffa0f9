"""Contract of the LSTM kernels (cell and whole sequence), PyTorch's weight layout.

Shapes (T steps, N batch, I input features, H hidden units, gates in the order i, f, g, o):
x (N, I) for the cell, (T, N, I) for the sequence (T >= 1); h, c, h0, c0 (N, H); w_ih (4H, I);
w_hh (4H, H); b_ih, b_hh (4H,) or None. ``saved`` is the forward's tuple: (gates (N, 4H),
c_next (N, H)) for the cell, (gates (T, N, 4H), cs (T, N, H), hs (T, N, H)) for the sequence.
"""
from __future__ import annotations

from .common import check_float_array, check_same_dtype, check_shape, checked_numel


def _check_state(fn: str, name: str, a, x, n: int, hidden: int, optional: bool = False) -> None:
    if a is None and optional:
        return
    check_float_array(fn, name, a, 2)
    check_same_dtype(fn, "x", x, **{name: a})
    check_shape(fn, name, a, (n, hidden))


def _check_weights(fn: str, x, features: int, w_ih, w_hh, b_ih=None, b_hh=None) -> int:
    """Returns H after checking w_hh (4H, H), w_ih (4H, I) against x's I, biases (4H,)."""
    check_float_array(fn, "w_ih", w_ih, 2)
    check_same_dtype(fn, "x", x, w_ih=w_ih)
    check_float_array(fn, "w_hh", w_hh, 2)
    check_same_dtype(fn, "x", x, w_hh=w_hh)
    hidden = w_hh.shape[1]
    if hidden < 1 or w_hh.shape[0] != 4 * hidden:
        raise ValueError(f"{fn}: w_hh must have shape (4*H, H) with H >= 1, got {tuple(w_hh.shape)}")
    if w_ih.shape[0] != 4 * hidden:
        raise ValueError(f"{fn}: w_ih must have 4*H = {4 * hidden} rows (H = {hidden} from w_hh), "
                         f"got shape {tuple(w_ih.shape)}")
    if w_ih.shape[1] != features:
        raise ValueError(f"{fn}: w_ih expects {w_ih.shape[1]} input features, x has {features}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None:
            check_float_array(fn, name, b, 1)
            check_same_dtype(fn, "x", x, **{name: b})
            check_shape(fn, name, b, (4 * hidden,))
    return hidden


def _check_saved(fn: str, saved, x, shapes: tuple, names: tuple) -> None:
    if not isinstance(saved, tuple) or len(saved) != len(shapes):
        got = f"a tuple of length {len(saved)}" if isinstance(saved, tuple) else type(saved).__name__
        raise TypeError(f"{fn}: saved must be the tuple of {len(shapes)} arrays returned by the forward, got {got}")
    for k, (a, shape, name) in enumerate(zip(saved, shapes, names)):
        label = f"saved[{k}] ({name})"
        check_float_array(fn, label, a, len(shape))
        check_same_dtype(fn, "x", x, **{label: a})
        check_shape(fn, label, a, shape)


def check_lstm_cell(fn: str, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[int, int, int]:
    """Returns (N, I, H) for one step: x (N, I), h and c (N, H)."""
    check_float_array(fn, "x", x, 2)
    n, features = x.shape
    hidden = _check_weights(fn, x, features, w_ih, w_hh, b_ih, b_hh)
    _check_state(fn, "h", h, x, n, hidden)
    _check_state(fn, "c", c, x, n, hidden)
    checked_numel(fn, "gates shape", (n, 4 * hidden))
    return n, features, hidden


def check_lstm_cell_backward(fn: str, grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, saved) -> tuple[int, int, int]:
    n, features, hidden = check_lstm_cell(fn, x, h, c, w_ih, w_hh)
    _check_state(fn, "grad_h_next", grad_h_next, x, n, hidden)
    _check_state(fn, "grad_c_next", grad_c_next, x, n, hidden, optional=True)
    _check_saved(fn, saved, x, ((n, 4 * hidden), (n, hidden)), ("gates", "c_next"))
    return n, features, hidden


def check_lstm(fn: str, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[int, int, int, int]:
    """Returns (T, N, I, H) for the sequence: x (T, N, I), h0 and c0 (N, H)."""
    check_float_array(fn, "x", x, 3)
    steps, n, features = x.shape
    if steps < 1:
        raise ValueError(f"{fn}: x must have at least one time step, got shape {tuple(x.shape)}")
    hidden = _check_weights(fn, x, features, w_ih, w_hh, b_ih, b_hh)
    _check_state(fn, "h0", h0, x, n, hidden)
    _check_state(fn, "c0", c0, x, n, hidden)
    checked_numel(fn, "gates shape", (steps, n, 4 * hidden))
    return steps, n, features, hidden


def check_lstm_backward(fn: str, grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, saved) -> tuple[int, int, int, int]:
    steps, n, features, hidden = check_lstm(fn, x, h0, c0, w_ih, w_hh)
    check_float_array(fn, "grad_y", grad_y, 3)
    check_same_dtype(fn, "x", x, grad_y=grad_y)
    check_shape(fn, "grad_y", grad_y, (steps, n, hidden))
    _check_state(fn, "grad_h_T", grad_h_T, x, n, hidden, optional=True)
    _check_state(fn, "grad_c_T", grad_c_T, x, n, hidden, optional=True)
    _check_saved(fn, saved, x, ((steps, n, 4 * hidden), (steps, n, hidden), (steps, n, hidden)),
                 ("gates", "cs", "hs"))
    return steps, n, features, hidden
