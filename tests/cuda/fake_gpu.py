"""A stand-in GPU for machines without one: a NumPy-backed ``cupy`` and ``pyengine._cuda``.

It runs the whole Python side of pyengine.kernels.cuda — argument handling, reshapes, buffer and
workspace allocation, the order and arguments of every binding call, the LSTM step loops, the
cross-entropy reductions — with each binding replaced by a NumPy model of its kernel's contract
(csrc/include/pyengine/cuda/*.h). The models check the arguments the way the real bindings do
(shapes, dtypes, workspace sizes), so a wrapper that passes a wrong buffer fails here. It proves
nothing about the CUDA code itself: that is what the GPU tests are for.
"""
from __future__ import annotations

import contextlib
import types

import numpy as np

from pyengine import reference


class FakeDeviceArray(np.ndarray):
    """A NumPy array that claims to live on device 0, with CuPy's flags (no ``writeable``) and get()."""

    def get(self):
        return np.array(self.view(np.ndarray), copy=True)

    @property
    def device(self):
        return types.SimpleNamespace(id=0)

    @property
    def flags(self):
        f = np.ndarray.flags.__get__(self)
        return types.SimpleNamespace(c_contiguous=f.c_contiguous, f_contiguous=f.f_contiguous, owndata=f.owndata)


def _dev(a):
    return np.asarray(a).view(FakeDeviceArray)


def _host(a):
    return None if a is None else np.asarray(a).view(np.ndarray)


def make_cupy():
    cp = types.ModuleType("cupy")
    cp.ndarray = FakeDeviceArray
    cp.asarray = lambda a, dtype=None: _dev(np.array(a, dtype=dtype, copy=True)) if not isinstance(
        a, FakeDeviceArray) else a
    cp.asnumpy = lambda a: np.array(_host(a), copy=True)
    cp.ascontiguousarray = lambda a: _dev(np.ascontiguousarray(a))
    cp.asfortranarray = lambda a: _dev(np.asfortranarray(a))
    cp.empty = lambda shape, dtype=np.float64: _dev(np.empty(shape, dtype))
    cp.full = lambda shape, fill, dtype=None: _dev(np.full(shape, fill, dtype))
    cp.concatenate = lambda arrays, axis=0: _dev(np.concatenate([_host(a) for a in arrays], axis))
    cp.stack = lambda arrays, axis=0: _dev(np.stack([_host(a) for a in arrays], axis))
    cp.from_dlpack = lambda x: _dev(np.from_dlpack(x))
    cp.int64, cp.uint8, cp.nan = np.int64, np.uint8, np.nan
    stream = types.SimpleNamespace(ptr=0, synchronize=lambda: None)
    cp.cuda = types.SimpleNamespace(get_current_stream=lambda: stream, Device=lambda i=0: contextlib.nullcontext())
    return cp


def _check(cond, msg):
    if not cond:
        raise AssertionError(f"fake _cuda binding: {msg}")


def _put(out, value):
    _check(out.shape == np.shape(value), f"output shape {out.shape} but the kernel writes {np.shape(value)}")
    out[...] = value


def make_cuda():
    m = types.ModuleType("pyengine._cuda")
    m.device_count = lambda: 1
    m.last_error = lambda: ""

    def gemm(a, b, c, out, ta, tb, alpha, beta, bias, bias_per_row, tf32, stream):
        _check(not tf32 or a.dtype == np.float32, "tf32 with float64")
        A, B = (a.T if ta else a), (b.T if tb else b)
        r = alpha * (_host(A) @ _host(B))
        if c is not None and beta != 0:
            r = r + beta * _host(c)
        if bias is not None:
            r = r + (_host(bias)[:, None] if bias_per_row else _host(bias)[None, :])
        _check(out.dtype == a.dtype, "out dtype")
        _put(out, r)
    m.gemm = gemm

    acts_f = [reference.relu_forward, reference.leaky_relu_forward, reference.elu_forward,
              reference.sigmoid_forward, reference.tanh_forward]
    acts_b = [reference.relu_backward, reference.leaky_relu_backward, reference.elu_backward,
              reference.sigmoid_backward, reference.tanh_backward]

    def activation_forward(op, x, y, param, s):
        _put(y, acts_f[op](_host(x), param) if op in (1, 2) else acts_f[op](_host(x)))

    def activation_backward(op, g, v, dx, param, s):
        _put(dx, acts_b[op](_host(g), _host(v), param) if op in (1, 2) else acts_b[op](_host(g), _host(v)))
    m.activation_forward, m.activation_backward = activation_forward, activation_backward

    def channel_sum(x, out, A, C, B, scale, s):
        _check(x.size == A * C * B and out.size == C, "channel_sum sizes")
        out.reshape(-1)[...] = _host(x).reshape(A, C, B).sum(axis=(0, 2)) * scale
    m.channel_sum = channel_sum

    def softmax_forward(log, x, y, axis, s):
        _put(y, (reference.log_softmax_forward if log else reference.softmax_forward)(_host(x), axis))

    def softmax_backward(log, g, y, dx, axis, s):
        f = reference.log_softmax_backward if log else reference.softmax_backward
        _put(dx, f(_host(g), _host(y), axis))
    m.softmax_forward, m.softmax_backward = softmax_forward, softmax_backward

    def cross_entropy_forward(x, t, losses, s):
        _put(losses, reference.cross_entropy_forward(_host(x), _host(t), "none"))

    def cross_entropy_backward(go, per_row, scale, x, t, dx, s):
        n = x.shape[0]
        _check(go.size == (n if per_row else 1), "grad_output size")
        g = _host(go).reshape(-1).astype(np.float64) * (1.0 if per_row else scale)
        g = g.astype(x.dtype)
        grad = reference.cross_entropy_backward(g if per_row else np.asarray(g[0]), _host(x), _host(t),
                                                "none" if per_row else "sum")
        _put(dx, grad)
    m.cross_entropy_forward, m.cross_entropy_backward = cross_entropy_forward, cross_entropy_backward

    def _geo(xs, ws, st, pad, dil, groups):
        from pyengine.kernels._contract.conv2d import conv_geometry
        return conv_geometry("fake", xs, ws, st, pad, dil, groups)

    def _pointwise(g):
        return g.R == 1 and g.S == 1 and g.stride == (1, 1) and g.padding == (0, 0)

    def _direct(g):
        return (g.C // g.G) * g.R * g.S <= 32

    def conv2d_plan(xs, ws, st, pad, dil, groups, budget, forward):
        g = _geo(xs, ws, st, pad, dil, groups)
        if _pointwise(g) or (forward and _direct(g)):
            return 0, 0, g.OH, g.OW
        per = g.C * g.R * g.S * g.OH * g.OW
        chunk = max(1, min(budget // per if per else 1, max(g.N, 1)))
        return chunk, chunk * per, g.OH, g.OW
    m.conv2d_plan = conv2d_plan

    def _workspace(g, ws, chunk, needed):
        if needed:
            _check(chunk >= 1 and ws is not None and ws.size >= chunk * g.C * g.R * g.S * g.OH * g.OW,
                   "workspace too small for the chunk")

    def im2col(x, cols, ksz, st, pad, dil, s):
        _put(cols, reference.im2col(_host(x), ksz, st, pad, dil))

    def col2im(cols, x, ksz, st, pad, dil, s):
        _put(x, reference.col2im(_host(cols), x.shape, ksz, st, pad, dil))
    m.im2col, m.col2im = im2col, col2im

    def conv2d_forward(x, w, b, y, ws, chunk, st, pad, dil, groups, tf32, s):
        g = _geo(x.shape, w.shape, st, pad, dil, groups)
        direct = chunk == 0 and _direct(g) and not _pointwise(g)
        _workspace(g, ws, chunk, not direct and not _pointwise(g))
        _put(y, reference.conv2d_forward(_host(x), _host(w), _host(b), st, pad, dil, groups))

    def conv2d_backward_input(gy, w, gx, ws, chunk, st, pad, dil, groups, tf32, s):
        g = _geo(gx.shape, w.shape, st, pad, dil, groups)
        _workspace(g, ws, chunk, not _pointwise(g))
        _put(gx, reference.conv2d_backward_input(_host(gy), _host(w), gx.shape, st, pad, dil, groups))

    def conv2d_backward_weight(gy, x, gw, ws, chunk, st, pad, dil, groups, tf32, s):
        g = _geo(x.shape, gw.shape, st, pad, dil, groups)
        _workspace(g, ws, chunk, not _pointwise(g) and g.N > 0)
        _put(gw, reference.conv2d_backward_weight(_host(gy), _host(x), gw.shape, st, pad, dil, groups))
    m.conv2d_forward, m.conv2d_backward_input = conv2d_forward, conv2d_backward_input
    m.conv2d_backward_weight = conv2d_backward_weight

    def max_pool2d_forward(x, y, ind, ksz, st, pad, dil, s):
        for ceil in (False, True):
            out, idx = reference.max_pool2d_forward(_host(x), ksz, st, pad, dil, ceil)
            if out.shape == y.shape:
                _put(y, out)
                _put(ind, idx)
                return
        _check(False, "output shape matches no pooling geometry")

    def max_pool2d_backward_input(gy, ind, gx, s):
        # as the kernel: scatter-add, an index outside the plane skipped (never an error)
        n, c, h, w = gx.shape
        out = np.zeros((n * c, h * w))
        ohw = gy.shape[2] * gy.shape[3]
        idx = _host(ind).reshape(n * c, ohw)
        g = _host(gy).reshape(n * c, ohw).astype(np.float64)
        ok = (idx >= 0) & (idx < h * w)
        planes = np.broadcast_to(np.arange(n * c)[:, None], idx.shape)
        np.add.at(out, (planes[ok], idx[ok]), g[ok])
        _put(gx, out.reshape(gx.shape).astype(gx.dtype))

    def avg_pool2d_forward(x, y, ksz, st, pad, include_pad, s):
        for ceil in (False, True):
            out = reference.avg_pool2d_forward(_host(x), ksz, st, pad, ceil, include_pad)
            if out.shape == y.shape:
                _put(y, out)
                return
        _check(False, "output shape matches no pooling geometry")

    def avg_pool2d_backward_input(gy, gx, ksz, st, pad, include_pad, s):
        for ceil in (False, True):
            try:
                _put(gx, reference.avg_pool2d_backward_input(_host(gy), gx.shape, ksz, st, pad, ceil, include_pad))
                return
            except ValueError:
                continue
        _check(False, "grad_output shape matches no pooling geometry")

    def global_avg_pool2d_forward(x, y, s):
        _put(y, reference.global_avg_pool2d_forward(_host(x)))

    def global_avg_pool2d_backward_input(gy, gx, s):
        _put(gx, reference.global_avg_pool2d_backward_input(_host(gy), gx.shape))
    for f in (max_pool2d_forward, max_pool2d_backward_input, avg_pool2d_forward, avg_pool2d_backward_input,
              global_avg_pool2d_forward, global_avg_pool2d_backward_input):
        setattr(m, f.__name__, f)

    def _sig(v):
        return 1.0 / (1.0 + np.exp(-v))

    def lstm_gates_forward(z, c, act, cn, hn, s):
        hid = c.shape[1]
        zz = _host(z).astype(np.float64)
        i, f, g, o = (zz[:, k * hid:(k + 1) * hid] for k in range(4))
        i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
        cnext = f * _host(c) + i * g
        _put(act, np.concatenate([i, f, g, o], axis=1))
        _put(cn, cnext)
        _put(hn, o * np.tanh(cnext))

    def lstm_gates_backward(gh, gh2, gc, act, c, cn, dz, gcp, s):
        hid = c.shape[1]
        a = _host(act).astype(np.float64)
        i, f, g, o = (a[:, k * hid:(k + 1) * hid] for k in range(4))
        ghs = _host(gh) + (0 if gh2 is None else _host(gh2))
        tc = np.tanh(_host(cn))
        gcs = (0 if gc is None else _host(gc)) + ghs * o * (1 - tc * tc)
        _put(dz, np.concatenate([gcs * g * i * (1 - i), gcs * _host(c) * f * (1 - f), gcs * i * (1 - g * g),
                                 ghs * tc * o * (1 - o)], axis=1))
        _put(gcp, gcs * f)
    m.lstm_gates_forward, m.lstm_gates_backward = lstm_gates_forward, lstm_gates_backward

    def batch_norm_forward(x, w, b, rm, rv, training, momentum, eps, y, sm, si, s):
        out, mean, invstd = reference.batch_norm_forward(_host(x), _host(w), _host(b), _host(rm), _host(rv),
                                                         training, momentum, eps)
        _put(y, out)
        _put(sm, mean)
        _put(si, invstd)

    def batch_norm_backward(g, x, w, sm, si, training, gx, gw, gb, sums, s):
        _check(sums.size == 2 * x.shape[1], "sums workspace size")
        r = reference.batch_norm_backward(_host(g), _host(x), _host(w), _host(sm), _host(si), training,
                                          (gx is not None, gw is not None, gb is not None))
        for out, val in zip((gx, gw, gb), r):
            if out is not None:
                _put(out, val)
    m.batch_norm_forward, m.batch_norm_backward = batch_norm_forward, batch_norm_backward

    def dropout_forward(x, y, mask, p, seed, s):
        out, msk = reference.dropout_forward(_host(x), p, seed)
        _put(y, out)
        _put(mask, msk)

    def dropout_backward(g, mask, dx, p, s):
        _put(dx, reference.dropout_backward(_host(g), _host(mask), p))
    m.dropout_forward, m.dropout_backward = dropout_forward, dropout_backward

    def sgd_step(p, g, b, lr, momentum, dampening, wd, nesterov, maximize, first_step, s):
        reference.sgd_step(_host(p), _host(g), _host(b), lr=lr, momentum=momentum, dampening=dampening,
                           weight_decay=wd, nesterov=nesterov, maximize=maximize, first_step=first_step)

    def adam_step(p, g, ma, v, vm, step, lr, b1, b2, eps, wd, decoupled, maximize, s):
        reference.adam_step(_host(p), _host(g), _host(ma), _host(v), _host(vm), step=step, lr=lr, beta1=b1,
                            beta2=b2, eps=eps, weight_decay=wd, decoupled_weight_decay=decoupled, maximize=maximize)

    def rmsprop_step(p, g, v, b, ga, lr, alpha, eps, wd, momentum, maximize, s):
        reference.rmsprop_step(_host(p), _host(g), _host(v), _host(b), _host(ga), lr=lr, alpha=alpha, eps=eps,
                               weight_decay=wd, momentum=momentum, maximize=maximize)

    def adagrad_step(p, g, st, step, lr, lr_decay, wd, eps, maximize, s):
        reference.adagrad_step(_host(p), _host(g), _host(st), step=step, lr=lr, lr_decay=lr_decay, weight_decay=wd,
                               eps=eps, maximize=maximize)
    for f in (sgd_step, adam_step, rmsprop_step, adagrad_step):
        setattr(m, f.__name__, f)
    return m
