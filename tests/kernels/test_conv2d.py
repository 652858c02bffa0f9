"""The conv bindings validate on their own: bad input handed straight to pyengine._C raises
ValueError/TypeError (never crashes), so the kernels can trust their arguments."""
import textwrap

from support import run_python

CODE = textwrap.dedent(r'''
    import re
    import numpy as np
    from pyengine import _C
    f = np.zeros((2, 4, 5, 5), np.float32)
    w = np.zeros((6, 4, 3, 3), np.float32)
    go = np.zeros((2, 6, 5, 5), np.float32)
    P = (1, 1, 1, 1, 1, 1, 1)                       # sh, sw, ph, pw, dh, dw, groups
    cases = [
        (lambda: _C.conv2d_forward(f, np.zeros((6, 3, 3, 3), np.float32), None, *P), ValueError, "weight expects 3 input channels, x has 4"),
        (lambda: _C.conv2d_forward(f, w, None, 0, 1, 1, 1, 1, 1, 1), ValueError, "stride must be >= 1"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, -1, 1, 1, 1, 1), ValueError, "padding must be >= 0"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, 1, 1, 1, 0, 1), ValueError, "dilation must be >= 1"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, 1, 1, 1, 1, 0), ValueError, "groups must be >= 1"),
        (lambda: _C.conv2d_forward(f, np.zeros((6, 1, 3, 3), np.float32), None, 1, 1, 1, 1, 1, 1, 3), ValueError, "groups 3 does not divide the 4 input"),
        (lambda: _C.conv2d_forward(f, np.zeros((5, 2, 3, 3), np.float32), None, 1, 1, 1, 1, 1, 1, 2), ValueError, "groups 2 does not divide the 5 output"),
        (lambda: _C.conv2d_forward(f, np.zeros((6, 4, 9, 3), np.float32), None, *P), ValueError, "larger than the padded input"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, 2**62, 1, 1, 1, 1), ValueError, "overflows 64-bit"),
        (lambda: _C.conv2d_forward(f, w, None, 1, 1, 1, 1, 2**62, 1, 1), ValueError, "overflows 64-bit"),
        (lambda: _C.conv2d_forward(f, w.astype(np.float64), None, *P), TypeError, "mixed dtypes"),
        (lambda: _C.conv2d_forward(f, w, np.zeros(5, np.float32), *P), ValueError, r"bias must have shape \(6,\)"),
        (lambda: _C.conv2d_forward(f, w, np.zeros(6, np.float64), *P), TypeError, "mixed dtypes"),
        (lambda: _C.conv2d_forward(f[0], w, None, *P), ValueError, "x must be 4-D"),
        (lambda: _C.conv2d_forward(f[:, :, ::2], w, None, *P), ValueError, "C-contiguous"),
        (lambda: _C.conv2d_forward(f.astype(np.int32), w, None, *P), TypeError, "float32 or float64"),
        (lambda: _C.conv2d_forward(f, np.zeros((0, 4, 3, 3), np.float32), None, *P), ValueError, "at least one output channel"),
        (lambda: _C.conv2d_backward_input(go, w, [2, 4, 5], *P), ValueError, "sequence of 4 ints"),
        (lambda: _C.conv2d_backward_input(go, w, [2, 4, 5, -1], *P), ValueError, "must be >= 0"),
        (lambda: _C.conv2d_backward_input(go, w, [2, 4, 7, 5], *P), ValueError, r"grad_output must have shape \(2, 6, 7, 5\)"),
        (lambda: _C.conv2d_backward_input(go, w, [2**40, 4, 2**40, 5], *P), ValueError, "overflows 64-bit"),
        (lambda: _C.conv2d_backward_weight(go, f, [6, 4, 3], *P), ValueError, "sequence of 4 ints"),
        (lambda: _C.conv2d_backward_weight(go, f, [6, 3, 3, 3], *P), ValueError, "weight expects 3 input channels"),
        (lambda: _C.conv2d_backward_weight(go[:1], f, [6, 4, 3, 3], *P), ValueError, "grad_output must have shape"),
        (lambda: _C.conv2d_backward_weight(go, f, [6, 4, 2**62, 1], 1, 1, 2**62, 0, 1, 1, 1), ValueError, "overflows 64-bit"),
        (lambda: _C.conv2d_backward_bias(go[0]), ValueError, "grad_output must be 4-D"),
        (lambda: _C.im2col(f, 0, 3, 1, 1, 1, 1, 1, 1), ValueError, "kernel_size must be >= 1"),
        (lambda: _C.im2col(f, 3, 3, 1, 1, 1, 1, 4, 1), ValueError, "larger than the padded input"),
        (lambda: _C.col2im(np.zeros((2, 27, 25), np.float32), [2, 4, 5, 5], 3, 3, 1, 1, 1, 1, 1, 1), ValueError, r"cols must have shape \(2, 36, 25\)"),
        (lambda: _C.col2im(np.zeros((2, 27, 25), np.float32), [2**40, 3, 2**40, 5], 3, 3, 1, 1, 1, 1, 1, 1), ValueError, "overflows 64-bit"),
    ]
    for i, (call, err, pattern) in enumerate(cases):
        try:
            call()
        except err as e:
            assert re.search(pattern, str(e)), (i, str(e), pattern)
        else:
            raise AssertionError(f"case {i} did not raise")
    print("ok", len(cases))
''')


def test_direct_binding_calls_raise_instead_of_crashing():
    result = run_python(code=CODE, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok")
