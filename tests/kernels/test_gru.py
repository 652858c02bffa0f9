"""GRU beyond the generic registry tests: saved crossed between implementations, a longer float32
sequence on every ISA and thread count, the inference forward against the training one, bad input in
a fresh process (a crash fails the test instead of killing the suite), and PyTorch as a second oracle
(its gate order r, z, n and b_hn inside the reset product)."""
import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu
from pyengine.testing.ops.gru import _cell_inputs, _seq_inputs
from support import run_python

from .helpers import assert_close

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


@pytest.mark.parametrize("forward_impl,backward_impl", [(reference, cpu), (cpu, reference)])
def test_saved_from_one_implementation_feeds_the_others_backward(forward_impl, backward_impl):
    rng = np.random.default_rng(5)
    x, h0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, F64, 4, 3, 7, 13)
    gy, gh = rng.standard_normal((4, 3, 13)), rng.standard_normal((3, 13))
    saved = forward_impl.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)[2]
    got = backward_impl.gru_backward(gy, gh, x, h0, w_ih, w_hh, saved)
    want = forward_impl.gru_backward(gy, gh, x, h0, w_ih, w_hh, saved)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, 1e-10, 1e-10, f"gru_backward output {i}")
    x, h, w_ih, w_hh, b_ih, b_hh = _cell_inputs(rng, F64, 3, 7, 13)
    saved = forward_impl.gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh)[1]
    got = backward_impl.gru_cell_backward(gh, x, h, w_ih, w_hh, saved)
    want = forward_impl.gru_cell_backward(gh, x, h, w_ih, w_hh, saved)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, 1e-10, 1e-10, f"gru_cell_backward output {i}")


@pytest.mark.parametrize("threads", [1, 2])
def test_long_float32_sequence_stays_close_to_the_float64_reference(cpu_isa, threads):
    # N·3H·H is above the size where the float recurrence splits the rows between threads, N is odd
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
    x, h0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, F32, 20, 23, 24, 70)
    y, h_T, saved = cpu.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    args64 = [a.astype(np.float64) for a in (x, h0, w_ih, w_hh, b_ih, b_hh)]
    ry, rh, rsaved = reference.gru_forward(*args64)
    assert_close(y, ry, 1e-4, 1e-4, f"y ({cpu_isa})")
    assert_close(saved[0], rsaved[0], 1e-4, 1e-4, f"saved gates ({cpu_isa})")
    yi, hi = cpu.gru_inference_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    np.testing.assert_array_equal(yi, y, err_msg="the inference forward computes the same bits")
    np.testing.assert_array_equal(hi, h_T)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    got = cpu.gru_backward(gy, None, x, h0, w_ih, w_hh, saved)
    want = reference.gru_backward(gy.astype(np.float64), None, *args64[:4], rsaved)
    for i, (g, w) in enumerate(zip(got, want)):
        scale = max(1.0, float(np.abs(w).max()))
        assert_close(g, w, 2e-4 * scale, 1e-3, f"gru_backward output {i} ({cpu_isa})")


def test_bad_input_raises_instead_of_crashing():
    code = r'''
import numpy as np
from pyengine import _C
f = np.float32
x, h = np.ones((2, 3, 5), f), np.ones((3, 4), f)
w_ih, w_hh, b = np.ones((12, 5), f), np.ones((12, 4), f), np.ones(12, f)
y, hT, saved = _C.gru_forward(x, h, w_ih, w_hh, b, b)
gy = np.ones((2, 3, 4), f)
cases = [
    lambda: _C.gru_forward(x[:, :, ::2], h, w_ih, w_hh, b, b),
    lambda: _C.gru_forward(x, h, w_ih, w_hh, b[:3], None),
    lambda: _C.gru_forward(x[:0], h, w_ih, w_hh, None, None),
    lambda: _C.gru_forward(x, h[:1], w_ih, w_hh, None, None),
    lambda: _C.gru_forward(x, h, w_ih[:, :4], w_hh, None, None),
    lambda: _C.gru_forward(x.astype(np.float64), h, w_ih, w_hh, None, None),
    lambda: _C.gru_forward(x.astype(np.int32), h, w_ih, w_hh, None, None),
    lambda: _C.gru_forward(x, h, w_ih, w_hh[:, :0], None, None),
    lambda: _C.gru_forward(x, h, np.ones((16, 5), f), np.ones((16, 4), f), None, None),
    lambda: _C.gru_inference_forward(x, None, w_ih, w_hh, None, None),
    lambda: _C.gru_inference_forward(x, h, w_ih, w_hh, b.astype(np.float64), None),
    lambda: _C.gru_backward(gy, None, x, h, w_ih, w_hh, None),
    lambda: _C.gru_backward(gy, None, x, h, w_ih, w_hh, saved[:1]),
    lambda: _C.gru_backward(gy, None, x, h, w_ih, w_hh, (saved[0], "hs")),
    lambda: _C.gru_backward(gy, None, x, h, w_ih, w_hh, (saved[0][:1], saved[1])),
    lambda: _C.gru_backward(gy[:1], None, x, h, w_ih, w_hh, saved),
    lambda: _C.gru_backward(gy, h[:, :1], x, h, w_ih, w_hh, saved),
    lambda: _C.gru_cell_forward(x[0], h, w_ih, w_hh[:8], None, None),
    lambda: _C.gru_cell_backward(h, x[0], h, w_ih, w_hh, (saved[0][0][:, :5],)),
    lambda: _C.gru_cell_backward(None, x[0], h, w_ih, w_hh, (saved[0][0],)),
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
    """T = 10**9 steps (x a broadcast view that costs nothing): MemoryError naming the op, raised
    before anything is allocated."""
    f = np.float32
    x = np.broadcast_to(f(0), (10**9, 4, 8))
    h = np.zeros((4, 16), f)
    with pytest.raises(MemoryError, match=r"^gru_forward: .* needs [0-9.]+ GiB.*, more than the .* of memory"):
        cpu.gru_forward(x, h, np.zeros((48, 8), f), np.zeros((48, 16), f))


# --- PyTorch as a second oracle (skipped where torch is not installed) ----------------------------

def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("impl", [reference, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
def test_gru_sequence_matches_torch_nn_gru(impl, dtype):
    torch = _torch()
    rng = np.random.default_rng(8)
    T, N, I, H = 5, 3, 7, 13
    x, h0, w_ih, w_hh, b_ih, b_hh = _seq_inputs(rng, dtype, T, N, I, H)
    tdt = torch.float64 if dtype == F64 else torch.float32
    gru = torch.nn.GRU(I, H).to(tdt)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(gru, name).copy_(torch.from_numpy(value))
    tx, th0 = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, h0))
    ty, thT = gru(tx, th0[None])
    gy, gh = (rng.standard_normal(s).astype(dtype) for s in ((T, N, H), (N, H)))
    torch.autograd.backward([ty, thT[0]], [torch.from_numpy(g) for g in (gy, gh)])

    atol, rtol = (1e-10, 1e-9) if dtype == F64 else (2e-5, 1e-4)
    y, h_T, saved = impl.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    for name, ours, theirs in (("y", y, ty), ("h_T", h_T, thT[0])):
        assert_close(ours, theirs.detach().numpy(), atol, rtol, name)
    grads = impl.gru_backward(gy, gh, x, h0, w_ih, w_hh, saved)
    theirs = [tx.grad, th0.grad, gru.weight_ih_l0.grad, gru.weight_hh_l0.grad, gru.bias_ih_l0.grad,
              gru.bias_hh_l0.grad]
    names = ["grad_x", "grad_h0", "grad_w_ih", "grad_w_hh", "grad_b_ih", "grad_b_hh"]
    for name, ours, t in zip(names, grads, theirs):
        assert_close(ours, t.numpy(), atol * 10, rtol * 10, name)


@pytest.mark.parametrize("impl", [reference, cpu], ids=["reference", "cpu"])
def test_gru_cell_matches_torch_gru_cell(impl):
    torch = _torch()
    rng = np.random.default_rng(9)
    x, h, w_ih, w_hh, b_ih, b_hh = _cell_inputs(rng, F64, 4, 6, 9)
    cell = torch.nn.GRUCell(6, 9).double()
    with torch.no_grad():
        for name, value in (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
            getattr(cell, name).copy_(torch.from_numpy(value))
    tx, th = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, h))
    th1 = cell(tx, th)
    gh = rng.standard_normal((4, 9))
    th1.backward(torch.from_numpy(gh))
    h1, saved = impl.gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh)
    assert_close(h1, th1.detach().numpy(), 1e-12, 1e-10, "h_next")
    grads = impl.gru_cell_backward(gh, x, h, w_ih, w_hh, saved)
    theirs = [tx.grad, th.grad, cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad]
    for i, (ours, t) in enumerate(zip(grads, theirs)):
        assert_close(ours, t.numpy(), 1e-11, 1e-9, f"gradient {i}")
