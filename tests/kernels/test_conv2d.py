"""Convolution beyond the registry: bad arguments handed straight to pyengine._C never crash (in a
fresh process, so that a crash fails the test instead of killing the suite), Fortran-ordered and
strided inputs give the contiguous result, and requests larger than the machine raise MemoryError
at once, before anything is allocated."""
import textwrap

import numpy as np
import pytest

from pyengine import reference
from pyengine.kernels import cpu

from support import run_python

CODE = textwrap.dedent(r'''
    import re
    import numpy as np
    from pyengine import _C
    f = np.zeros((2, 4, 5, 5), np.float32)
    w = np.zeros((6, 4, 3, 3), np.float32)
    go = np.zeros((2, 6, 5, 5), np.float32)
    cases = [
        (lambda: _C.conv2d_forward(f, np.zeros((6, 3, 3, 3), np.float32), None, 1, 1), ValueError, "weight expects 3 input channels, x has 4"),
        (lambda: _C.conv2d_forward(f, w, None, (0, 1), 1), ValueError, "stride must be >= 1"),
        (lambda: _C.conv2d_forward(f, w, None, 1, (-1, 1)), ValueError, "padding must be >= 0"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, (1, 0)), ValueError, "dilation must be >= 1"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, 1, 0), ValueError, "groups must be >= 1"),
        (lambda: _C.conv2d_forward(f, np.zeros((6, 1, 3, 3), np.float32), None, 1, 1, 1, 3), ValueError, "groups 3 does not divide the 4 input"),
        (lambda: _C.conv2d_forward(f, np.zeros((5, 2, 3, 3), np.float32), None, 1, 1, 1, 2), ValueError, "groups 2 does not divide the 5 output"),
        (lambda: _C.conv2d_forward(f, np.zeros((6, 4, 9, 3), np.float32), None, 1, 1), ValueError, "larger than the padded input"),
        (lambda: _C.conv2d_forward(f, w, None, 1, (2**62, 1)), ValueError, r"more than 2\*\*63-1 elements"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, (2**62, 1)), ValueError, r"more than 2\*\*63-1 elements"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, (1, 2**63)), ValueError, r"more than 2\*\*63-1 elements"),
        (lambda: _C.conv2d_forward(f, w.astype(np.float64), None, 1, 1), TypeError, "mixed dtypes"),
        (lambda: _C.conv2d_forward(f, w, np.zeros(5, np.float32), 1, 1), ValueError, r"bias must have shape \(6,\)"),
        (lambda: _C.conv2d_forward(f, w, np.zeros(6, np.float64), 1, 1), TypeError, "mixed dtypes"),
        (lambda: _C.conv2d_forward(f[0], w, None, 1, 1), ValueError, "x must be 4-D"),
        (lambda: _C.conv2d_forward(f.astype(np.int32), w, None, 1, 1), TypeError, "float32 or float64"),
        (lambda: _C.conv2d_forward(f, np.zeros((0, 4, 3, 3), np.float32), None, 1, 1), ValueError, "at least one output channel"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, 1, None), TypeError, "groups must be an int, got NoneType"),
        (lambda: _C.conv2d_backward_input(go, w, [2, 4, 5], 1, 1), ValueError, "sequence of 4 ints"),
        (lambda: _C.conv2d_backward_input(go, w, [2, 4, 5, -1], 1, 1), ValueError, "must be >= 0"),
        (lambda: _C.conv2d_backward_input(go, w, [2, 4, 7, 5], 1, 1), ValueError, r"grad_output must have shape \(2, 6, 7, 5\)"),
        (lambda: _C.conv2d_backward_input(go, w, [2**40, 4, 2**40, 5], 1, 1), ValueError, r"more than 2\*\*63-1 elements"),
        (lambda: _C.conv2d_backward_weight(go, f, [6, 4, 3], 1, 1), ValueError, "sequence of 4 ints"),
        (lambda: _C.conv2d_backward_weight(go, f, [6, 3, 3, 3], 1, 1), ValueError, "weight expects 3 input channels"),
        (lambda: _C.conv2d_backward_weight(go[:1], f, [6, 4, 3, 3], 1, 1), ValueError, "grad_output must have shape"),
        (lambda: _C.conv2d_backward_weight(go, f, [6, 4, 2**62, 1], 1, (2**62, 0)), ValueError, r"more than 2\*\*63-1 elements"),
        (lambda: _C.conv2d_backward_bias(go[0]), ValueError, "grad_output must be 4-D"),
        (lambda: _C.im2col(f, (0, 3), 1, 1), ValueError, "kernel_size must be >= 1"),
        (lambda: _C.im2col(f, 3, 1, 1, (4, 1)), ValueError, "larger than the padded input"),
        (lambda: _C.col2im(np.zeros((2, 27, 25), np.float32), [2, 4, 5, 5], 3, 1, 1), ValueError, r"cols must have shape \(2, 36, 25\)"),
        (lambda: _C.col2im(np.zeros((2, 27, 25), np.float32), [2**40, 3, 2**40, 5], 3, 1, 1), ValueError, r"more than 2\*\*63-1 elements"),
    ]
    for i, (call, err, pattern) in enumerate(cases):
        try:
            call()
        except err as e:
            assert re.search(pattern, str(e)), (i, str(e))
        else:
            raise SystemExit(f"case {i} did not raise")
    print("ok", len(cases))
''')


def test_bad_arguments_raise_and_never_crash():
    r = run_python(code=CODE)
    assert r.returncode == 0 and r.stdout.startswith("ok"), (r.returncode, r.stdout, r.stderr[-3000:])


def test_fortran_and_strided_inputs_give_the_contiguous_result():
    rng = np.random.default_rng(0)
    x = np.asfortranarray(rng.standard_normal((2, 3, 7, 6)).astype(np.float32))
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)[:, :, ::-1, :]   # negative strides
    want = cpu.conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(w), None, 1, 1)
    np.testing.assert_array_equal(cpu.conv2d_forward(x, w, None, 1, 1), want)
    np.testing.assert_allclose(want, reference.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, 1),
                               atol=1e-4)


@pytest.mark.parametrize("call", [
    # the columns of one 8192 × 8192 image (256 MiB) for a 32 × 32 kernel: 1024 times that
    lambda: cpu.im2col(np.zeros((1, 1, 2**13, 2**13), np.float32), 32, 1, 16),
    # an output of 2**38 elements from a broadcast (zero-stride) input that itself costs nothing
    lambda: cpu.conv2d_forward(np.broadcast_to(np.float32(0), (2**18, 1, 32, 32)),
                               np.zeros((1024, 1, 1, 1), np.float32)),
    # the GEMM path's column buffer of one image (2 groups of 4096 channels, 7×7, 256×256): 49 GiB,
    # while grad_input itself is 2 GiB
    lambda: cpu.conv2d_backward_input(np.zeros((1, 2, 256, 256), np.float32), np.zeros((2, 4096, 7, 7), np.float32),
                                      (1, 8192, 256, 256), 1, 3, 1, 2),
], ids=["im2col 1 TiB", "forward output", "backward_input columns"])
def test_a_request_beyond_the_machine_raises_memory_error_first(call):
    with pytest.raises(MemoryError, match=r"^(im2col|conv2d_forward|conv2d_backward_input): .* needs [0-9.]+ "
                                          r"(GiB|TiB|PiB).*, more than the .* of memory of this machine"):
        call()
