"""The one parity helper every kernel test uses."""
import numpy as np


def assert_close(actual, expected, atol, rtol, what=""):
    """Same shape, finite where expected is finite, |a − e| ≤ atol + rtol·|e| element-wise."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    if expected.dtype.kind in "iub":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    ok = np.isclose(a, e, atol=atol, rtol=rtol, equal_nan=True)
    if not ok.all():
        idx = np.unravel_index(int(np.argmin(ok)), ok.shape) if ok.ndim else ()
        raise AssertionError(f"{what}: {int((~ok).sum())} of {ok.size} elements differ; worst at {idx}: "
                             f"got {a[idx]!r}, expected {e[idx]!r} (atol {atol}, rtol {rtol}); "
                             f"max abs diff {np.nanmax(np.abs(a - e)):.3e}")
