"""The argument checks of pyengine._cuda's bindings, reached without a GPU.

A binding reads every device array through __cuda_array_interface__ and asks the CUDA runtime about
its pointer only when the array has elements. Arrays with a zero-size dimension therefore carry the
shapes, dtypes and flags of a call all the way through the C++ checks on a machine with no GPU or
driver; a consistent empty call returns without launching anything (every launcher returns early
on no work). So the second line of defence that keeps a direct _cuda call from faulting the GPU is
tested here on every machine. Messages are matched on the argument they must name.
"""
import numpy as np
import pytest

_cuda = pytest.importorskip("pyengine._cuda")


class Empty:
    """A device-array stand-in with no elements (never dereferenced: no pointer query is made)."""

    def __init__(self, shape, dtype=np.float32, readonly=False):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": np.dtype(dtype).str, "version": 3,
                                         "data": (0, readonly), "strides": None}


def E(*shape, dtype=np.float32, readonly=False):
    assert 0 in shape
    return Empty(shape, dtype, readonly)


def test_consistent_empty_calls_return_without_a_gpu():
    assert _cuda.gemm(E(0, 3), E(3, 0), None, E(0, 0), False, False, 1.0, 0.0, None, True, False, 0) is None
    assert _cuda.gemm(E(3, 0), E(0, 3), None, E(0, 0), True, True, 1.0, 0.0, None, True, False, 0) is None
    assert _cuda.activation_forward(0, E(0, 4), E(0, 4), 0.0, 0) is None
    assert _cuda.softmax_forward(False, E(0, 7), E(0, 7), -1, 0) is None
    assert _cuda.lstm_gates_forward(E(0, 12), E(0, 3), E(0, 12), E(0, 3), E(0, 3), 0) is None
    assert _cuda.max_pool2d_forward(E(0, 2, 6, 6), E(0, 2, 3, 3), E(0, 2, 3, 3, dtype=np.int64), (2, 2), (2, 2),
                                    (0, 0), (1, 1), 0) is None
    assert _cuda.conv2d_forward(E(0, 3, 8, 8), E(0, 3, 3, 3), None, E(0, 0, 6, 6), None, 0, (1, 1), (0, 0),
                                (1, 1), 1, False, 0) is None
    assert _cuda.conv2d_backward_weight(E(0, 0, 6, 6), E(0, 3, 8, 8), E(0, 3, 3, 3), None, 0, (1, 1), (0, 0),
                                        (1, 1), 1, False, 0) is None


def gemm(a, b, out, ta=False, tb=False, bias=None, per_row=True, tf32=False):
    return _cuda.gemm(a, b, None, out, ta, tb, 1.0, 0.0, bias, per_row, tf32, 0)


def conv(x, w, y, stride=(1, 1), groups=1):
    return _cuda.conv2d_forward(x, w, None, y, None, 0, stride, (0, 0), (1, 1), groups, False, 0)


@pytest.mark.parametrize("call, error, match", [
    (lambda: gemm(E(0, 3), E(4, 0), E(0, 0)), ValueError, r"gemm: inner dimensions 3 and 4 differ"),
    (lambda: gemm(E(0, 3), E(3, 0, dtype=np.float64), E(0, 0)), TypeError,
     r"gemm: b has dtype float64 but a is float32; mixed dtypes"),
    (lambda: gemm(E(0, 3), E(3, 0), E(0, 1)), ValueError, r"gemm: out must have shape \(0, 0\), got \(0, 1\)"),
    (lambda: gemm(E(0, 3), E(0, 0), E(0, 0), ta=True), ValueError, r"gemm: out must have shape \(3, 0\)"),
    (lambda: gemm(E(0, 3), E(0, 4), E(0, 0), tb=True), ValueError, r"gemm: inner dimensions 3 and 4 differ"),
    (lambda: gemm(E(0, 3), E(3, 0), E(0, 0, readonly=True)), ValueError, r"gemm: out is read-only"),
    (lambda: gemm(E(0, 3, dtype=np.float64), E(3, 0, dtype=np.float64), E(0, 0, dtype=np.float64), tf32=True),
     ValueError, r"gemm: tf32 applies to float32 only"),
    (lambda: gemm(E(3, 0), E(0, 0), E(3, 0), bias=E(0)), ValueError, r"gemm: bias must have shape \(3,\), got \(0,\)"),
    (lambda: gemm(E(0, 3, dtype=np.int64), E(3, 0), E(0, 0)), TypeError, r"gemm: a must be float32 or float64, got int64"),
    (lambda: gemm(E(0, 3, 1), E(3, 0), E(0, 0)), ValueError, r"gemm: a must be 2-D, got 3-D"),
    (lambda: gemm(np.zeros((0, 3), np.float32), E(3, 0), E(0, 0)), TypeError,
     r"gemm: a must be a CUDA device array .*ndarray"),
    (lambda: conv(E(0, 3, 8, 8), E(0, 2, 3, 3), E(0, 0, 6, 6)), ValueError,
     r"conv2d_forward: weight expects 2 input channels, x has 3"),
    (lambda: conv(E(0, 4, 8, 8), E(0, 2, 3, 3), E(0, 0, 6, 6), groups=3), ValueError,
     r"conv2d_forward: channels 4 and 0 must both be divisible by groups 3"),
    (lambda: conv(E(0, 3, 8, 8), E(0, 3, 3, 3), E(0, 0, 7, 6)), ValueError,
     r"conv2d_forward: out must have shape \(0, 0, 6, 6\)"),
    (lambda: conv(E(0, 3, 8, 8), E(0, 3, 3, 3), E(0, 0, 3, 3), stride=(2, 3)), ValueError,
     r"conv2d_forward: out must have shape \(0, 0, 3, 2\)"),
    (lambda: conv(E(0, 3, 2, 2), E(0, 3, 3, 3), E(0, 0, 1, 1)), ValueError,
     r"conv2d_forward: kernel larger than the padded input"),
    (lambda: conv(E(0, 3, 8, 8), E(0, 3, 0, 3), E(0, 0, 8, 6)), ValueError, r"conv2d_forward: kernel height must be >= 1"),
    (lambda: conv(E(0, 3, 8, 8), E(0, 3, 3, 3), E(0, 0, 6, 6), stride=(0, 1)), ValueError,
     r"conv2d_forward: stride must be >= 1, got 0"),
    (lambda: _cuda.conv2d_forward(E(0, 3, 8, 8), E(0, 3, 3, 3), None, E(0, 0, 6, 6), None, 1, (1, 1), (0, 0), (1, 1),
                                  1, False, 0), ValueError, r"conv2d_forward: workspace must hold 0 elements|workspace"),
    (lambda: _cuda.conv2d_backward_input(E(0, 0, 6, 6), E(0, 3, 3, 3), E(0, 3, 8, 8), None, 0, (1, 1), (0, 0),
                                         (1, 1), 1, False, 0), ValueError,
     r"conv2d_backward_input: chunk must be >= 1 for this convolution, got 0"),
    (lambda: _cuda.max_pool2d_forward(E(0, 2, 6, 6), E(0, 2, 3, 3), E(0, 2, 3, 3), (2, 2), (2, 2), (0, 0), (1, 1), 0),
     TypeError, r"max_pool2d_forward: indices must be int64, got float32"),
    (lambda: _cuda.max_pool2d_forward(E(0, 2, 6, 6), E(0, 3, 3, 3), E(0, 3, 3, 3, dtype=np.int64), (2, 2), (2, 2),
                                      (0, 0), (1, 1), 0), ValueError, r"does not match input .* in batch and channels"),
    (lambda: _cuda.max_pool2d_backward_input(E(0, 2, 3, 3), E(0, 2, 3, 4, dtype=np.int64), E(0, 2, 6, 6), 0),
     ValueError, r"max_pool2d_backward_input: indices must have shape \(0, 2, 3, 3\)"),
    (lambda: _cuda.avg_pool2d_forward(E(0, 2, 6, 6), E(0, 2, 3, 3), (0, 2), (2, 2), (0, 0), True, 0),
     ValueError, r"avg_pool2d_forward: kernel_size must be >= 1, got 0"),
    (lambda: _cuda.global_avg_pool2d_forward(E(0, 2, 6, 6), E(0, 2, 1, 2), 0),
     ValueError, r"global_avg_pool2d_forward: out must have shape \(0, 2, 1, 1\)"),
    (lambda: _cuda.lstm_gates_forward(E(0, 11), E(0, 3), E(0, 12), E(0, 3), E(0, 3), 0),
     ValueError, r"lstm_gates_forward: gates must have shape \(0, 12\)"),
    (lambda: _cuda.lstm_gates_backward(E(0, 3), None, None, E(0, 12), E(0, 3), E(0, 3), E(0, 12), E(0, 4), 0),
     ValueError, r"lstm_gates_backward: grad_c_prev must have shape \(0, 3\)"),
    (lambda: _cuda.activation_forward(7, E(0, 4), E(0, 4), 0.0, 0), ValueError, r"unknown activation code 7"),
    (lambda: _cuda.activation_forward(0, E(0, 4), E(0, 5), 0.0, 0), ValueError,
     r"activation_forward: out must have shape \(0, 4\), got \(0, 5\)"),
    (lambda: _cuda.dropout_forward(E(0, 4), E(0, 4), E(0, 4, dtype=np.uint8), 1.5, 1, 0), ValueError,
     r"dropout_forward: p must be in \[0, 1\), got 1.5"),
    (lambda: _cuda.dropout_forward(E(0, 4), E(0, 4), E(0, 4), 0.5, 1, 0), TypeError,
     r"dropout_forward: mask must be uint8, got float32"),
    (lambda: _cuda.channel_sum(E(0, 3), E(0), 1, 3, 0, 1.0, 0), ValueError,
     r"channel_sum: out must have 3 elements, got 0"),
    (lambda: _cuda.channel_sum(E(0, 3), E(0), -1, 0, 1, 1.0, 0), ValueError, r"channel_sum: A must be >= 0, got -1"),
    (lambda: _cuda.softmax_forward(False, E(0, 7), E(0, 7), 2, 0), ValueError,
     r"softmax_forward: axis 2 is out of range for 2-D input"),
    (lambda: _cuda.softmax_backward(True, E(0, 7), E(0, 7), E(0, 6), -1, 0), ValueError, r"log_softmax_backward: "),
    (lambda: _cuda.cross_entropy_forward(E(0, 5), E(0), E(0), 0), TypeError, r"cross_entropy_forward: target"),
    (lambda: _cuda.sgd_step(E(0, 3), E(0, 3), None, 0.1, 0.9, 0.0, 0.0, False, False, False, 0), ValueError,
     r"sgd_step: momentum_buffer is required when momentum != 0"),
    (lambda: _cuda.adam_step(E(0, 3), E(0, 4), E(0, 3), E(0, 3), None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False,
                             0), ValueError, r"adam_step: grad must have shape \(0, 3\)"),
    (lambda: _cuda.batch_norm_forward(E(0, 3, 4), None, None, None, None, True, 0.1, 1e-5, E(0, 3, 4), E(0), E(0), 0),
     ValueError, r"batch_norm_forward: x must be 2-D \(N, C\) or 4-D"),
])
def test_bad_arguments_are_refused_before_any_launch(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_views_and_masks_are_refused():
    view = Empty((0, 4))
    view.__cuda_array_interface__["strides"] = (32, 4)  # an empty array's strides are not checked
    assert _cuda.activation_forward(0, view, E(0, 4), 0.0, 0) is None
    masked = Empty((0, 4))
    masked.__cuda_array_interface__["mask"] = Empty((0, 4))
    with pytest.raises(ValueError, match="activation_forward: x is a masked array"):
        _cuda.activation_forward(0, masked, E(0, 4), 0.0, 0)
    odd = Empty((0, 4))
    odd.__cuda_array_interface__["typestr"] = "<f2"
    with pytest.raises(TypeError, match=r"activation_forward: x has unsupported dtype \(typestr <f2\)"):
        _cuda.activation_forward(0, odd, E(0, 4), 0.0, 0)
    neg = Empty((0, 4))
    neg.__cuda_array_interface__["shape"] = (-1, 4)
    with pytest.raises(ValueError, match="activation_forward: x has a negative dimension"):
        _cuda.activation_forward(0, neg, E(0, 4), 0.0, 0)
