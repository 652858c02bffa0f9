"""Global autograd switches: grad mode (``no_grad``, ``enable_grad``, ``set_grad_enabled``) and
anomaly detection. The state is per thread (as in PyTorch: ``no_grad`` in an evaluation thread does
not switch recording off in a training thread) and is read once per op, one attribute load."""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
           "is_anomaly_enabled", "inference_mode", "is_inference_mode_enabled"]


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.inference = False


STATE = _State()


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


def is_anomaly_enabled() -> bool:
    return STATE.anomaly


class _GradModeContext:
    """Context manager and decorator (``@no_grad()`` or bare ``@no_grad``) that sets grad mode and
    restores the previous one on exit. Inside inference_mode nothing records even when grad mode is
    switched on (torch: inference tensors never join a graph)."""
    _mode = True

    def __new__(cls, *args):
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool) and cls is not set_grad_enabled:
            return cls()(args[0])                       # used as a bare decorator
        return super().__new__(cls)

    def __enter__(self):
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._mode and not STATE.inference
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = STATE.grad_enabled
            STATE.grad_enabled = mode and not STATE.inference
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.grad_enabled = prev
        return wrapper


class no_grad(_GradModeContext):
    """Ops run inside record no graph: outputs have requires_grad=False. Usable as ``@no_grad()``."""
    _mode = False


class enable_grad(_GradModeContext):
    _mode = True


class set_grad_enabled(_GradModeContext):
    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._mode and not STATE.inference

    def __enter__(self):
        return self


class inference_mode:
    """torch.inference_mode: inside, nothing is recorded (no graph, no saved tensors, no version
    bookkeeping to pay for) and layers may take their inference kernels (fused conv + bias + ReLU, an
    LSTM forward that keeps no activations). ``inference_mode(False)`` switches it off again inside an
    enclosing one and turns grad mode on, as torch's does. A context manager and a decorator
    (``@inference_mode()``, ``@inference_mode(False)`` or bare ``@inference_mode``).

    Unlike torch, tensors made inside are ordinary tensors afterwards (no "inference tensor" flag)."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):     # bare @inference_mode
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode: mode must be a bool, got {type(mode).__name__}")
        self._mode = mode

    def __enter__(self):
        self._prev = (STATE.grad_enabled, STATE.inference)
        STATE.grad_enabled = not self._mode
        STATE.inference = self._mode
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled, STATE.inference = self._prev
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return inference_mode(self._mode)


def is_inference_mode_enabled() -> bool:
    return STATE.inference


class detect_anomaly:
    """While active, a NaN or Inf produced by a backward raises RuntimeError naming the forward op
    that created the node (e.g. ``log``), the input index, and how many elements are bad."""

    def __init__(self, check_nan: bool = True):
        self._mode = bool(check_nan)

    def __enter__(self):
        self._prev = STATE.anomaly
        STATE.anomaly = self._mode
        return self

    def __exit__(self, *exc):
        STATE.anomaly = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self._mode):
                return fn(*args, **kwargs)
        return wrapper
