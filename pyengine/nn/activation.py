"""The activation layers beyond layers.py's kernel-backed ones (ReLU, ReLU6, LeakyReLU, PReLU, ELU,
Sigmoid, Tanh, Softmax, LogSoftmax): torch.nn's GELU, SiLU, Mish, Hardswish, Hardsigmoid, SELU, CELU,
Softplus, Softsign, LogSigmoid, Softmin, Hardtanh, Tanhshrink, Softshrink, Hardshrink, Threshold, GLU —
same constructor arguments and defaults, no parameters (nothing in the state dict). ``inplace=True`` is
accepted and computes out of place (the result is the same; autograd needs the input anyway).
The maths and gradients are ``pyengine.autograd.activation``'s.
"""
from __future__ import annotations

from ..autograd import activation as A
from ..autograd.softmax import softmax as _softmax
from .module import Module

__all__ = ["GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "SELU", "CELU", "Softplus", "Softsign",
           "LogSigmoid", "Softmin", "Hardtanh", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "GLU", "RReLU"]


class GELU(Module):
    """x·Φ(x) (approximate='none') or its tanh form (approximate='tanh')."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return A.Gelu.apply(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class _Plain(Module):
    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(_Plain):
    """x·σ(x) (swish)."""
    _fn = staticmethod(A.silu)


class Mish(_Plain):
    """x·tanh(softplus(x))."""
    _fn = staticmethod(A.mish)


class Hardswish(_Plain):
    """x·relu6(x + 3)/6 (MobileNetV3)."""
    _fn = staticmethod(A.hardswish)


class Hardsigmoid(_Plain):
    """relu6(x + 3)/6."""
    _fn = staticmethod(A.hardsigmoid)


class SELU(_Plain):
    """scale·(max(0, x) + min(0, α(eˣ − 1))), α ≈ 1.6733, scale ≈ 1.0507."""
    _fn = staticmethod(A.selu)


class CELU(Module):
    """max(0, x) + min(0, α(e^(x/α) − 1))."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return A.celu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """log(1 + e^(βx))/β, linear where βx > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """x/(1 + |x|)."""

    def forward(self, input):
        return A.Softsign.apply(input)


class LogSigmoid(Module):
    """log σ(x), stable for large |x|."""

    def forward(self, input):
        return A.LogSigmoid.apply(input)


class Softmin(Module):
    """softmax(−x) along dim."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return _softmax(-input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Hardtanh(Module):
    """clamp(x, min_val, max_val), gradient 1 strictly between them."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be less than or equal to max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return A.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Tanhshrink(Module):
    """x − tanh x."""

    def forward(self, input):
        return A.Tanhshrink.apply(input)


class Softshrink(Module):
    """x ∓ λ outside [−λ, λ], 0 inside."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return A.softshrink(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x outside [−λ, λ], 0 inside."""

    def forward(self, input):
        return A.hardshrink(input, self.lambd)


class Threshold(Module):
    """x where x > threshold, value elsewhere."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return A.threshold(input, self.threshold, self.value)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class GLU(Module):
    """a·σ(b), a and b the two halves of the input along dim."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return A.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class RReLU(Module):
    """Randomized leaky ReLU: in training a slope a ~ U(lower, upper) per negative element (from the
    global generator, so ``manual_seed`` fixes it), in evaluation the mean slope (lower + upper)/2."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        if not lower <= upper:
            raise ValueError(f"RReLU: lower must be <= upper, got lower={lower} and upper={upper}")
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return A.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")
