"""Registry entries for the LSTM kernels: lstm_cell_forward/backward and lstm_forward/backward.

The backward entries run each implementation's own forward first (OpInfo.call) and hand its
``saved`` to its own backward; tests/kernels/test_lstm.py also crosses them over. Weights are
scaled by 1/sqrt(I + H) as PyTorch initialises them, so gates are not all saturated.
"""
from __future__ import annotations

import numpy as np

from ..registry import ErrorInput, GradSpec, OpInfo, Sample, non_contiguous, randn, with_saved

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F32: (2e-4, 2e-4), F64: (1e-10, 1e-10)}

# (N, I, H) for the cell: batch 1, odd I and H, H not a multiple of 16, sizes past a vector, zero batch
CELL_SHAPES = [(1, 1, 1), (1, 7, 13), (5, 7, 13), (3, 16, 17), (4, 33, 40), (0, 7, 13), (2, 0, 5)]
# (T, N, I, H) for the sequence: one step, batch 1, odd sizes, zero batch, H > 256 (K in two chunks)
SEQ_SHAPES = [(1, 1, 1, 1), (1, 3, 7, 13), (4, 1, 7, 13), (5, 3, 16, 17), (3, 0, 5, 4), (6, 4, 33, 20), (2, 13, 5, 300)]


def _weights(rng, dtype, i, h, bias=(True, True)):
    s = 1.0 / np.sqrt(i + h)
    w_ih = (rng.standard_normal((4 * h, i)) * s).astype(dtype)
    w_hh = (rng.standard_normal((4 * h, h)) * s).astype(dtype)
    b_ih = randn(rng, (4 * h,), dtype) * dtype.type(0.5) if bias[0] else None
    b_hh = randn(rng, (4 * h,), dtype) * dtype.type(0.5) if bias[1] else None
    return w_ih, w_hh, b_ih, b_hh


def _cell_inputs(rng, dtype, n, i, h, bias=(True, True)):
    return (randn(rng, (n, i), dtype), randn(rng, (n, h), dtype), randn(rng, (n, h), dtype),
            *_weights(rng, dtype, i, h, bias))


def _seq_inputs(rng, dtype, t, n, i, h, bias=(True, True)):
    return (randn(rng, (t, n, i), dtype), randn(rng, (n, h), dtype), randn(rng, (n, h), dtype),
            *_weights(rng, dtype, i, h, bias))


def _cell_forward_samples(rng, dtype):
    out = [Sample(_cell_inputs(rng, dtype, *shape), {}, f"N{shape[0]} I{shape[1]} H{shape[2]}") for shape in CELL_SHAPES]
    out.append(Sample(_cell_inputs(rng, dtype, 3, 5, 6, bias=(False, False)), {}, "no biases"))
    out.append(Sample(_cell_inputs(rng, dtype, 3, 5, 6, bias=(True, False)), {}, "b_ih only"))
    x, h, c, *w = _cell_inputs(rng, dtype, 4, 9, 11)
    out.append(Sample((non_contiguous(x), non_contiguous(h), c, *w), {}, "non-contiguous x and h"))
    return out


def one_hot_inputs(rng, dtype, t, n, i, h, hot=1, scale=1.0):
    """x with `hot` non-zeros per row (value 1 for one-hot, random signs and sizes otherwise): the CPU
    kernels' sparse path (at most one entry in 16 non-zero) for the input projection and grad_w_ih."""
    x = np.zeros((t, n, i), dtype)
    for k in range(hot):
        ids = rng.integers(0, i, (t, n, 1))
        v = np.ones((t, n, 1), dtype) if scale == 1.0 else randn(rng, (t, n, 1), dtype) * dtype.type(scale)
        np.put_along_axis(x, ids, np.take_along_axis(x, ids, -1) + v, -1)
    return (x,) + _seq_inputs(rng, dtype, t, n, i, h)[1:]


# (T, N, I, H, non-zeros per row, their scale): one-hot, two-hot with random values, a row block of
# all-zero rows (x = 0 at T = 1 below), I not a multiple of 16
SPARSE_SHAPES = [(5, 3, 32, 13, 1, 1.0), (4, 5, 48, 20, 2, 3.0), (3, 2, 37, 9, 1, 1.0)]


def _sparse_samples(rng, dtype):
    out = [Sample(one_hot_inputs(rng, dtype, *s), {}, "sparse x: T{} N{} I{} H{}, {} non-zero(s) per row".format(*s[:5]))
           for s in SPARSE_SHAPES]
    x, *rest = one_hot_inputs(rng, dtype, 3, 4, 64, 10)
    x[1] = 0
    x[2, 1, 5] = -0.0
    out.append(Sample((x, *rest), {}, "sparse x with all-zero rows and a -0 entry"))
    return out


def _seq_forward_samples(rng, dtype):
    out = [Sample(_seq_inputs(rng, dtype, *shape), {}, "T{} N{} I{} H{}".format(*shape)) for shape in SEQ_SHAPES]
    out.append(Sample(_seq_inputs(rng, dtype, 3, 2, 5, 6, bias=(False, False)), {}, "no biases"))
    out.append(Sample(_seq_inputs(rng, dtype, 3, 2, 5, 6, bias=(False, True)), {}, "b_hh only"))
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, dtype, 3, 2, 8, 19)
    out.append(Sample((x * dtype.type(40), h0, c0, w_ih * dtype.type(5), w_hh, b_ih, b_hh), {},
                      "extreme pre-activations (|a| up to hundreds: saturated gates, clamped exp)"))
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, dtype, 4, 3, 9, 11)
    out.append(Sample((non_contiguous(x), h0, non_contiguous(c0), np.asfortranarray(w_ih), w_hh, b_ih, b_hh), {},
                      "non-contiguous x and c0, Fortran-ordered w_ih"))
    return out + _sparse_samples(rng, dtype)


# The float inference forward blocks the batch rows (12 + 4 rows run as 8 + 8) and the hidden units
# (groups of 32, the last one partial) and splits the rows between the threads once N·4H·H ≥ 64³:
# shapes that reach every such case at 1 and 2 threads, a step with no input features among them.
INFERENCE_SHAPES = [(3, 16, 0, 33), (2, 17, 9, 45), (3, 29, 5, 70), (2, 40, 3, 64)]


def _inference_samples(rng, dtype):
    return _seq_forward_samples(rng, dtype) + [
        Sample(_seq_inputs(rng, dtype, *shape), {}, "T{} N{} I{} H{}".format(*shape)) for shape in INFERENCE_SHAPES]


def _cell_backward_samples(rng, dtype):
    """args = (grad_h_next, grad_c_next, x, h, c, w_ih, w_hh, b_ih, b_hh): the forward inputs ride along."""
    out = []
    for shape in CELL_SHAPES[:5] + [CELL_SHAPES[5]]:
        n, _, h = shape
        out.append(Sample((randn(rng, (n, h), dtype), randn(rng, (n, h), dtype), *_cell_inputs(rng, dtype, *shape)),
                          {}, f"N{n} I{shape[1]} H{h}"))
    out.append(Sample((randn(rng, (3, 6), dtype), None, *_cell_inputs(rng, dtype, 3, 5, 6)), {}, "grad_c_next None"))
    x, h, c, *w = _cell_inputs(rng, dtype, 4, 9, 11, bias=(False, False))
    out.append(Sample((non_contiguous(randn(rng, (4, 11), dtype)), randn(rng, (4, 11), dtype), non_contiguous(x), h, c, *w),
                      {}, "non-contiguous grad_h_next and x, no biases"))
    return out


def _seq_backward_samples(rng, dtype):
    """args = (grad_y, grad_h_T, grad_c_T, x, h0, c0, w_ih, w_hh, b_ih, b_hh)."""
    out = []
    for shape in SEQ_SHAPES:
        t, n, _, h = shape
        out.append(Sample((randn(rng, (t, n, h), dtype), randn(rng, (n, h), dtype), randn(rng, (n, h), dtype),
                           *_seq_inputs(rng, dtype, *shape)), {}, "T{} N{} I{} H{}".format(*shape)))
    out.append(Sample((randn(rng, (3, 2, 6), dtype), None, None, *_seq_inputs(rng, dtype, 3, 2, 5, 6)), {},
                      "grad_h_T and grad_c_T None"))
    out.append(Sample((randn(rng, (3, 2, 6), dtype), randn(rng, (2, 6), dtype), None, *_seq_inputs(rng, dtype, 3, 2, 5, 6)),
                      {}, "grad_c_T None"))
    x, h0, c0, *w = _seq_inputs(rng, dtype, 4, 3, 9, 11, bias=(False, False))
    out.append(Sample((non_contiguous(randn(rng, (4, 3, 11), dtype)), None, randn(rng, (3, 11), dtype),
                       non_contiguous(x), h0, c0, *w), {}, "non-contiguous grad_y and x, no biases"))
    # needs_input_grad: x not needed (one-hot inputs), only the weights, nothing
    gy, x, h0, c0, *w = randn(rng, (3, 5, 7), dtype), *_seq_inputs(rng, dtype, 3, 5, 4, 7)
    for mask in [(False,) + (True,) * 6, (False, False, False, True, True, True, True), (False,) * 7,
                 (True, True, True, False, False, False, True)]:
        out.append(Sample((gy, None, None, x, h0, c0, *w), dict(needs_input_grad=mask), f"needs_input_grad={mask}"))
    for smp in _sparse_samples(rng, dtype):
        x, h0, c0, *w = smp.args
        gy = randn(rng, x.shape[:2] + (h0.shape[1],), dtype)
        out.append(Sample((gy, None, None, x, h0, c0, *w), {}, smp.desc))
        out.append(Sample((gy, None, None, x, h0, c0, *w), dict(needs_input_grad=(False,) + (True,) * 6),
                          smp.desc + ", grad_x not needed"))
    return out


def _call_cell_backward(impl, s):
    gh, gc, x, h, c, w_ih, w_hh, b_ih, b_hh = s.args
    _, _, saved = impl.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
    return impl.lstm_cell_backward(gh, gc, x, h, c, w_ih, w_hh, saved)


def _call_seq_backward(impl, s):
    gy, gh, gc, x, h0, c0, w_ih, w_hh, b_ih, b_hh = s.args
    *_, saved = impl.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return impl.lstm_backward(gy, gh, gc, x, h0, c0, w_ih, w_hh, saved, **s.kwargs)


# --- error inputs ---------------------------------------------------------------------------------

def _common_errors(fn, args, x_pos, w_pos, rng, seq):
    """Errors shared by the four entries: args is a valid call, x at x_pos, w_ih at w_pos, w_hh next."""
    def with_(pos, value):
        a = list(args)
        a[pos] = value
        return tuple(a)
    x, w_ih, w_hh = args[x_pos], args[w_pos], args[w_pos + 1]
    return [
        ErrorInput(with_(x_pos, x.astype(np.float64)), {}, TypeError, rf"{fn}: \w+ has dtype float32 but x is float64", "mixed dtypes"),
        ErrorInput(with_(x_pos, x.astype(np.int32)), {}, TypeError, rf"{fn}: x must be float32 or float64, got int32", "int x"),
        ErrorInput(with_(x_pos, x[..., None]), {}, ValueError, rf"{fn}: x must be {3 if seq else 2}-D, got", "x rank"),
        ErrorInput(with_(x_pos, x[..., :-1]), {}, ValueError, rf"{fn}: w_ih expects {x.shape[-1]} input features, x has {x.shape[-1] - 1}", "I mismatch"),
        ErrorInput(with_(w_pos + 1, w_hh[:-1]), {}, ValueError, rf"{fn}: w_hh must have shape \(4\*H, H\) with H >= 1, got \({w_hh.shape[0] - 1}, {w_hh.shape[1]}\)", "w_hh not 4H x H"),
        ErrorInput(with_(w_pos, w_ih[:-4]), {}, ValueError, rf"{fn}: w_ih must have 4\*H = {w_hh.shape[0]} rows", "w_ih rows"),
        ErrorInput(with_(w_pos + 1, w_hh[:0, :0]), {}, ValueError, rf"{fn}: w_hh must have shape \(4\*H, H\) with H >= 1, got \(0, 0\)", "H = 0"),
        ErrorInput(with_(w_pos, w_ih.astype(np.float64)), {}, TypeError, rf"{fn}: w_ih has dtype float64 but x is float32", "mixed w_ih"),
        ErrorInput(with_(w_pos, w_ih.ravel()), {}, ValueError, rf"{fn}: w_ih must be 2-D, got 1-D", "w_ih rank"),
    ]


def _cell_forward_errors(rng):
    fn = "lstm_cell_forward"
    args = _cell_inputs(rng, F32, 3, 5, 4)
    x, h, c, w_ih, w_hh, b_ih, b_hh = args
    return _common_errors(fn, args, 0, 3, rng, False) + [
        ErrorInput((x, h[:2], c, w_ih, w_hh, b_ih, b_hh), {}, ValueError, rf"{fn}: h must have shape \(3, 4\), got \(2, 4\)", "N of h"),
        ErrorInput((x, h, c[:, :3], w_ih, w_hh, b_ih, b_hh), {}, ValueError, rf"{fn}: c must have shape \(3, 4\), got \(3, 3\)", "H of c"),
        ErrorInput((x, h, c, w_ih, w_hh, b_ih[:-1], b_hh), {}, ValueError, rf"{fn}: b_ih must have shape \(16,\), got \(15,\)", "b_ih shape"),
        ErrorInput((x, h, c, w_ih, w_hh, b_ih, b_hh.astype(np.float64)), {}, TypeError, rf"{fn}: b_hh has dtype float64 but x is float32", "mixed b_hh"),
        ErrorInput((x, h, c, w_ih, w_hh, b_ih, b_hh[None]), {}, ValueError, rf"{fn}: b_hh must be 1-D, got 2-D", "b_hh rank"),
        ErrorInput((x, h.tolist(), c, w_ih, w_hh), {}, TypeError, rf"{fn}: h must be a numpy.ndarray, got list", "list h"),
    ]


def _cell_backward_errors(rng):
    from ...reference import lstm_cell_forward
    fn = "lstm_cell_backward"
    x, h, c, w_ih, w_hh, b_ih, b_hh = _cell_inputs(rng, F32, 3, 5, 4)
    saved = lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)[2]
    g = randn(rng, (3, 4), F32)
    args = (g, g, x, h, c, w_ih, w_hh, saved)
    return _common_errors(fn, args, 2, 5, rng, False) + [
        ErrorInput((g[:, :3], g, x, h, c, w_ih, w_hh, saved), {}, ValueError, rf"{fn}: grad_h_next must have shape \(3, 4\), got \(3, 3\)", "grad_h shape"),
        ErrorInput((g, g[:1], x, h, c, w_ih, w_hh, saved), {}, ValueError, rf"{fn}: grad_c_next must have shape \(3, 4\), got \(1, 4\)", "grad_c shape"),
        ErrorInput((g, g, x, h, c, w_ih, w_hh, list(saved)), {}, TypeError, rf"{fn}: saved must be the tuple of 2 arrays", "saved a list"),
        ErrorInput((g, g, x, h, c, w_ih, w_hh, saved[:1]), {}, TypeError, rf"{fn}: saved must be the tuple of 2 arrays", "saved short"),
        ErrorInput((g, g, x, h, c, w_ih, w_hh, (saved[0][:, :-1], saved[1])), {}, ValueError,
                   rf"{fn}: saved\[0\] \(gates\) must have shape \(3, 16\), got \(3, 15\)", "saved gates shape"),
        ErrorInput((g, g, x, h, c, w_ih, w_hh, (saved[0], saved[1].astype(np.float64))), {}, TypeError,
                   rf"{fn}: saved\[1\] \(c_next\) has dtype float64 but x is float32", "saved dtype"),
    ]


def _seq_forward_errors(rng):
    fn = "lstm_forward"
    args = _seq_inputs(rng, F32, 2, 3, 5, 4)
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = args
    return _common_errors(fn, args, 0, 3, rng, True) + [
        ErrorInput((x, h0[:2], c0, w_ih, w_hh), {}, ValueError, rf"{fn}: h0 must have shape \(3, 4\), got \(2, 4\)", "N of h0"),
        ErrorInput((x, h0, c0[:, :2], w_ih, w_hh), {}, ValueError, rf"{fn}: c0 must have shape \(3, 4\), got \(3, 2\)", "H of c0"),
        ErrorInput((x[:0], h0, c0, w_ih, w_hh), {}, ValueError, rf"{fn}: x must have at least one time step", "T = 0"),
        ErrorInput((x, h0, c0, w_ih, w_hh, b_ih[:8]), {}, ValueError, rf"{fn}: b_ih must have shape \(16,\), got \(8,\)", "b_ih shape"),
        ErrorInput((x, h0, c0, w_ih, w_hh, b_ih, b_hh.astype(np.float64)), {}, TypeError, rf"{fn}: b_hh has dtype float64 but x is float32", "mixed b_hh"),
    ]


def _seq_backward_errors(rng):
    from ...reference import lstm_forward
    fn = "lstm_backward"
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, F32, 2, 3, 5, 4)
    saved = lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)[3]
    gy, g = randn(rng, (2, 3, 4), F32), randn(rng, (3, 4), F32)
    args = (gy, g, g, x, h0, c0, w_ih, w_hh, saved)
    return _common_errors(fn, args, 3, 6, rng, True) + [
        ErrorInput((gy[:1], g, g, x, h0, c0, w_ih, w_hh, saved), {}, ValueError, rf"{fn}: grad_y must have shape \(2, 3, 4\), got \(1, 3, 4\)", "grad_y shape"),
        ErrorInput((gy.astype(np.float64), g, g, x, h0, c0, w_ih, w_hh, saved), {}, TypeError, rf"{fn}: grad_y has dtype float64 but x is float32", "mixed grad_y"),
        ErrorInput((gy, g[:, :1], g, x, h0, c0, w_ih, w_hh, saved), {}, ValueError, rf"{fn}: grad_h_T must have shape \(3, 4\), got \(3, 1\)", "grad_h_T shape"),
        ErrorInput((gy, g, g, x, h0, c0[:1], w_ih, w_hh, saved), {}, ValueError, rf"{fn}: c0 must have shape \(3, 4\), got \(1, 4\)", "c0 shape"),
        ErrorInput((gy, g, g, x, h0, c0, w_ih, w_hh, saved[:2]), {}, TypeError, rf"{fn}: saved must be the tuple of 3 arrays", "saved short"),
        ErrorInput((gy, g, g, x, h0, c0, w_ih, w_hh, (saved[0], saved[1][:1], saved[2])), {}, ValueError,
                   rf"{fn}: saved\[1\] \(cs\) must have shape \(2, 3, 4\), got \(1, 3, 4\)", "saved cs shape"),
        ErrorInput((gy, g, g, x, h0, c0, w_ih, w_hh, (saved[0], saved[1], None)), {}, TypeError,
                   rf"{fn}: saved\[2\] \(hs\) must be a numpy.ndarray", "saved hs None"),
        ErrorInput(args, dict(needs_input_grad=(True, True)), ValueError,
                   rf"{fn}: needs_input_grad must be a sequence of 7 bools, got \(True, True\)", "mask length"),
        ErrorInput(args, dict(needs_input_grad=(1,) * 7), TypeError,
                   rf"{fn}: needs_input_grad must be a bool, got int 1", "mask type"),
    ]


# --- gradient specs -------------------------------------------------------------------------------

def _present(grads, xs):
    """The gradients of the inputs that are arrays (an absent bias has none)."""
    return [g for g, x in zip(grads, xs) if x is not None]


def _cell_grad_forward(impl, x, h, c, w_ih, w_hh, b_ih, b_hh):
    h_next, c_next, _ = impl.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
    return np.concatenate([h_next.ravel(), c_next.ravel()])


def _cell_grad_vjp(impl, g, x, h, c, w_ih, w_hh, b_ih, b_hh):
    _, _, saved = impl.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
    gh, gc = g[:h.size].reshape(h.shape), g[h.size:].reshape(c.shape)
    grads = impl.lstm_cell_backward(gh, gc, x, h, c, w_ih, w_hh, saved)
    return _present(grads, (x, h, c, w_ih, w_hh, b_ih, b_hh))


def _cell_grad_inputs(rng):
    return [Sample(_cell_inputs(rng, F64, 2, 3, 2), {}, "N2 I3 H2"),
            Sample(_cell_inputs(rng, F64, 1, 2, 3), {}, "N1 I2 H3"),
            Sample(_cell_inputs(rng, F64, 2, 3, 2, bias=(False, False)), {}, "no biases")]


def _seq_grad_forward(impl, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    y, h_T, c_T, _ = impl.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return np.concatenate([y.ravel(), h_T.ravel(), c_T.ravel()])


def _seq_grad_vjp(impl, g, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    y, _, _, saved = impl.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    gy = g[:y.size].reshape(y.shape)
    gh = g[y.size:y.size + h0.size].reshape(h0.shape)
    gc = g[y.size + h0.size:].reshape(c0.shape)
    grads = impl.lstm_backward(gy, gh, gc, x, h0, c0, w_ih, w_hh, saved)
    return _present(grads, (x, h0, c0, w_ih, w_hh, b_ih, b_hh))


def _seq_grad_inputs(rng):
    return [Sample(_seq_inputs(rng, F64, 3, 2, 3, 2), {}, "T3 N2 I3 H2"),
            Sample(_seq_inputs(rng, F64, 1, 1, 2, 3), {}, "T1 N1 I2 H3"),
            Sample(_seq_inputs(rng, F64, 2, 2, 2, 2, bias=(True, False)), {}, "b_ih only")]


def _inference_errors(rng):
    return [ErrorInput(e.args, e.kwargs, e.error, e.match.replace("lstm_forward", "lstm_inference_forward"), e.desc)
            for e in _seq_forward_errors(rng)]


OPS = [
    OpInfo("lstm_cell_forward", "lstm", _cell_forward_samples, _cell_forward_errors, tol=dict(TOL), outputs=with_saved,
           grad=GradSpec(_cell_grad_forward, _cell_grad_vjp, _cell_grad_inputs)),
    OpInfo("lstm_cell_backward", "lstm", _cell_backward_samples, _cell_backward_errors, tol=dict(TOL),
           call=_call_cell_backward),
    OpInfo("lstm_forward", "lstm", _seq_forward_samples, _seq_forward_errors, tol=dict(TOL), outputs=with_saved,
           grad=GradSpec(_seq_grad_forward, _seq_grad_vjp, _seq_grad_inputs)),
    OpInfo("lstm_inference_forward", "lstm", _inference_samples, _inference_errors, tol=dict(TOL)),
    OpInfo("lstm_backward", "lstm", _seq_backward_samples, _seq_backward_errors, tol=dict(TOL),
           call=_call_seq_backward),
]
