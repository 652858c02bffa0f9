"""LSTM and linear beyond the generic registry tests: saved crossed between implementations, a
longer float32 sequence, bad input in a fresh process (a crash fails the test instead of killing the
suite), and PyTorch as a second oracle."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu
from pyengine.testing.ops.lstm import _cell_inputs, _seq_inputs, one_hot_inputs
from support import run_python

from .helpers import assert_close

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


@pytest.mark.parametrize("forward_impl,backward_impl", [(reference, cpu), (cpu, reference)])
def test_saved_from_one_implementation_feeds_the_others_backward(forward_impl, backward_impl):
    rng = np.random.default_rng(5)
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, F64, 4, 3, 7, 13)
    gy, gh, gc = rng.standard_normal((4, 3, 13)), rng.standard_normal((3, 13)), rng.standard_normal((3, 13))
    saved = forward_impl.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)[3]
    got = backward_impl.lstm_backward(gy, gh, gc, x, h0, c0, w_ih, w_hh, saved)
    want = forward_impl.lstm_backward(gy, gh, gc, x, h0, c0, w_ih, w_hh, saved)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, 1e-10, 1e-10, f"lstm_backward output {i}")
    x, h, c, w_ih, w_hh, b_ih, b_hh = _cell_inputs(rng, F64, 3, 7, 13)
    saved = forward_impl.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)[2]
    got = backward_impl.lstm_cell_backward(gh, gc, x, h, c, w_ih, w_hh, saved)
    want = forward_impl.lstm_cell_backward(gh, gc, x, h, c, w_ih, w_hh, saved)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, 1e-10, 1e-10, f"lstm_cell_backward output {i}")


@pytest.mark.parametrize("threads", [1, 2])
def test_long_float32_sequence_stays_close_to_the_float64_reference(cpu_isa, threads):
    # N·4H·H is above the size where the float recurrence splits the rows between threads, N is odd
    # and H = 70 leaves partial vectors and panels
    import pyengine
    before = pyengine.get_num_threads()
    pyengine.set_num_threads(threads)
    try:
        _long_sequence(cpu_isa)
    finally:
        pyengine.set_num_threads(before)


def _long_sequence(cpu_isa):
    rng = np.random.default_rng(6)
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, F32, 20, 23, 24, 70)
    y, h_T, c_T, saved = cpu.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    args64 = [a.astype(np.float64) for a in (x, h0, c0, w_ih, w_hh, b_ih, b_hh)]
    ry, rh, rc, rsaved = reference.lstm_forward(*args64)
    assert_close(y, ry, 1e-4, 1e-4, f"y ({cpu_isa})")
    assert_close(c_T, rc, 1e-4, 1e-4, f"c_T ({cpu_isa})")
    gy = rng.standard_normal(y.shape).astype(np.float32)
    got = cpu.lstm_backward(gy, None, None, x, h0, c0, w_ih, w_hh, saved)
    want = reference.lstm_backward(gy.astype(np.float64), None, None, *args64[:5], rsaved)
    for i, (g, w) in enumerate(zip(got, want)):
        scale = max(1.0, float(np.abs(w).max()))
        assert_close(g, w, 2e-4 * scale, 1e-3, f"lstm_backward output {i} ({cpu_isa})")


@pytest.mark.parametrize("threads", [1, 2])
def test_sparse_input_path_keeps_the_dense_gemms_non_finite_results(cpu_isa, threads):
    # A one-hot x takes the sparse projection and grad_w_ih; an inf in w_ih (0·inf = NaN in the GEMM)
    # or a NaN reaching dA must give what the dense GEMM gives, so those fall back to it.
    import pyengine
    before = pyengine.get_num_threads()
    pyengine.set_num_threads(threads)
    try:
        rng = np.random.default_rng(9)
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = one_hot_inputs(rng, F32, 6, 33, 40, 70)
        args64 = [a.astype(np.float64) for a in (x, h0, c0, w_ih, w_hh, b_ih, b_hh)]
        y, _, _, saved = cpu.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        ry, _, _, rsaved = reference.lstm_forward(*args64)
        assert_close(y, ry, 1e-4, 1e-4, f"one-hot y ({cpu_isa})")
        gy = rng.standard_normal(y.shape).astype(np.float32)
        got = cpu.lstm_backward(gy, None, None, x, h0, c0, w_ih, w_hh, saved)
        want = reference.lstm_backward(gy.astype(np.float64), None, None, *args64[:5], rsaved)
        assert_close(got[3], want[3], 1e-4, 1e-4, f"one-hot grad_w_ih ({cpu_isa})")
        w_bad = w_ih.copy()
        w_bad[5, 0] = np.inf   # rows of x with a 0 in column 0 get 0·inf = NaN in gate 5
        y_bad = cpu.lstm_forward(x, h0, c0, w_bad, w_hh, b_ih, b_hh)[0]
        ry_bad = reference.lstm_forward(x, h0, c0, w_bad, w_hh, b_ih, b_hh)[0]
        assert np.array_equal(np.isnan(y_bad), np.isnan(ry_bad)) and np.isnan(y_bad).any()
        gy_bad = gy.copy()
        gy_bad[3, 7, 11] = np.nan
        got = cpu.lstm_backward(gy_bad, None, None, x, h0, c0, w_ih, w_hh, saved)
        want = reference.lstm_backward(gy_bad.astype(np.float64), None, None, *args64[:5], rsaved)
        assert np.array_equal(np.isnan(got[3]), np.isnan(want[3])) and np.isnan(got[3]).all()
    finally:
        pyengine.set_num_threads(before)


def test_bad_input_raises_instead_of_crashing():
    code = r'''
import numpy as np
from pyengine import _C
f = np.float32
x, h, c = np.ones((2, 3, 5), f), np.ones((3, 4), f), np.ones((3, 4), f)
w_ih, w_hh, b = np.ones((16, 5), f), np.ones((16, 4), f), np.ones(16, f)
y, hT, cT, saved = _C.lstm_forward(x, h, c, w_ih, w_hh, b, b)
gy = np.ones((2, 3, 4), f)
cases = [
    lambda: _C.lstm_forward(x[:, :, ::2], h, c, w_ih, w_hh, b, b),
    lambda: _C.lstm_forward(x, h, c, w_ih, w_hh, b[:3], None),
    lambda: _C.lstm_forward(x[:0], h, c, w_ih, w_hh, None, None),
    lambda: _C.lstm_forward(x, h[:1], c, w_ih, w_hh, None, None),
    lambda: _C.lstm_forward(x, h, c, w_ih[:, :4], w_hh, None, None),
    lambda: _C.lstm_forward(x.astype(np.float64), h, c, w_ih, w_hh, None, None),
    lambda: _C.lstm_forward(x.astype(np.int32), h, c, w_ih, w_hh, None, None),
    lambda: _C.lstm_forward(x, h, c, w_ih, w_hh[:, :0], None, None),
    lambda: _C.lstm_backward(gy, None, None, x, h, c, w_ih, w_hh, None),
    lambda: _C.lstm_backward(gy, None, None, x, h, c, w_ih, w_hh, saved[:2]),
    lambda: _C.lstm_backward(gy, None, None, x, h, c, w_ih, w_hh, (saved[0], saved[1], "hs")),
    lambda: _C.lstm_backward(gy, None, None, x, h, c, w_ih, w_hh, (saved[0][:1], saved[1], saved[2])),
    lambda: _C.lstm_backward(gy[:1], None, None, x, h, c, w_ih, w_hh, saved),
    lambda: _C.lstm_backward(gy, h[:, :1], None, x, h, c, w_ih, w_hh, saved),
    lambda: _C.lstm_cell_forward(x[0], h, c, w_ih, w_hh[:8], None, None),
    lambda: _C.lstm_cell_backward(h, None, x[0], h, c, w_ih, w_hh, (saved[0][0],)),
    lambda: _C.lstm_cell_backward(h, c[:, :2], x[0], h, c, w_ih, w_hh, (saved[0][0], saved[1][0])),
    lambda: _C.linear_forward(x[0], w_ih[:, :4], None),
    lambda: _C.linear_forward(x[0], w_ih, b[:2]),
    lambda: _C.linear_forward(x[..., :4], w_ih, None),
    lambda: _C.linear_backward(np.ones((3, 7), f), x[0], w_ih, (True, True, True)),
    lambda: _C.linear_backward(np.ones((3, 16), np.float64), x[0], w_ih, (True, True, True)),
    lambda: _C.linear_backward(np.ones((3, 16), f), x[0], w_ih, (True, True)),
]
for i, case in enumerate(cases):
    try:
        case()
    except (ValueError, TypeError) as e:
        print(i, type(e).__name__, e)
    else:
        raise SystemExit(f"case {i} did not raise")
print("all raised")
'''
    r = run_python(code=code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all raised" in r.stdout


def test_a_sequence_beyond_the_machine_raises_memory_error_first():
    """T = 10**9 steps (x a broadcast view that costs nothing): MemoryError naming the op and the size,
    raised before anything is allocated."""
    f = np.float32
    x = np.broadcast_to(f(0), (10**9, 4, 8))
    h = np.zeros((4, 16), f)
    with pytest.raises(MemoryError, match=r"^lstm_forward: .* needs [0-9.]+ GiB.*, more than the .* of memory"):
        cpu.lstm_forward(x, h, h, np.zeros((64, 8), f), np.zeros((64, 16), f))


# --- PyTorch as a second oracle (skipped where torch is not installed) ----------------------------

def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("impl", [reference, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
def test_lstm_sequence_matches_torch_nn_lstm(impl, dtype):
    torch = _torch()
    rng = np.random.default_rng(8)
    T, N, I, H = 5, 3, 7, 13
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, dtype, T, N, I, H)
    tdt = torch.float64 if dtype == F64 else torch.float32
    lstm = torch.nn.LSTM(I, H).to(tdt)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(lstm, name).copy_(torch.from_numpy(value))
    tx, th0, tc0 = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, h0, c0))
    ty, (thT, tcT) = lstm(tx, (th0[None], tc0[None]))
    gy, gh, gc = (rng.standard_normal(s).astype(dtype) for s in ((T, N, H), (N, H), (N, H)))
    torch.autograd.backward([ty, thT[0], tcT[0]], [torch.from_numpy(g) for g in (gy, gh, gc)])

    atol, rtol = (1e-10, 1e-9) if dtype == F64 else (2e-5, 1e-4)
    y, h_T, c_T, saved = impl.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    for name, ours, theirs in (("y", y, ty), ("h_T", h_T, thT[0]), ("c_T", c_T, tcT[0])):
        assert_close(ours, theirs.detach().numpy(), atol, rtol, name)
    grads = impl.lstm_backward(gy, gh, gc, x, h0, c0, w_ih, w_hh, saved)
    theirs = [tx.grad, th0.grad, tc0.grad, lstm.weight_ih_l0.grad, lstm.weight_hh_l0.grad, lstm.bias_ih_l0.grad,
              lstm.bias_hh_l0.grad]
    names = ["grad_x", "grad_h0", "grad_c0", "grad_w_ih", "grad_w_hh", "grad_b_ih", "grad_b_hh"]
    for name, ours, t in zip(names, grads, theirs):
        assert_close(ours, t.numpy(), atol * 10, rtol * 10, name)


@pytest.mark.parametrize("impl", [reference, cpu], ids=["reference", "cpu"])
def test_lstm_cell_matches_torch_lstm_cell(impl):
    torch = _torch()
    rng = np.random.default_rng(9)
    x, h, c, w_ih, w_hh, b_ih, b_hh = _cell_inputs(rng, F64, 4, 6, 9)
    cell = torch.nn.LSTMCell(6, 9).double()
    with torch.no_grad():
        for name, value in (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
            getattr(cell, name).copy_(torch.from_numpy(value))
    tx, th, tc = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, h, c))
    th1, tc1 = cell(tx, (th, tc))
    gh, gc = rng.standard_normal((4, 9)), rng.standard_normal((4, 9))
    torch.autograd.backward([th1, tc1], [torch.from_numpy(gh), torch.from_numpy(gc)])
    h1, c1, saved = impl.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
    assert_close(h1, th1.detach().numpy(), 1e-12, 1e-10, "h_next")
    assert_close(c1, tc1.detach().numpy(), 1e-12, 1e-10, "c_next")
    grads = impl.lstm_cell_backward(gh, gc, x, h, c, w_ih, w_hh, saved)
    theirs = [tx.grad, th.grad, tc.grad, cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad]
    for i, (ours, t) in enumerate(zip(grads, theirs)):
        assert_close(ours, t.numpy(), 1e-11, 1e-9, f"gradient {i}")


@pytest.mark.parametrize("impl", [reference, cpu], ids=["reference", "cpu"])
def test_linear_matches_torch(impl):
    torch = _torch()
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((2, 5, 7)), rng.standard_normal((3, 7)), rng.standard_normal(3)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    g = rng.standard_normal(ty.shape)
    ty.backward(torch.from_numpy(g))
    assert_close(impl.linear_forward(x, w, b), ty.detach().numpy(), 1e-12, 1e-10, "y")
    for ours, t in zip(impl.linear_backward(g, x, w), (tx.grad, tw.grad, tb.grad)):
        assert_close(ours, t.numpy(), 1e-12, 1e-10, "gradient")
