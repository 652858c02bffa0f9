"""Activations as autograd Functions over the device's kernels (``<op>_forward`` / ``<op>_backward``
of pyengine.kernels.cpu / .cuda): ReLU, leaky ReLU, ELU, sigmoid, tanh, ReLU6, GELU (exact and
tanh), SiLU, Mish, Hardswish, Hardsigmoid, Softplus, LogSigmoid — and PReLU, in NumPy. The rest of
torch.nn.functional's (SELU, CELU, Softsign, Hardtanh, Tanhshrink, Softshrink, Hardshrink,
Threshold) are NumPy/CuPy expressions with their closed-form derivatives, at the end of this file.

Any shape; the output has the input's shape and dtype. ReLU, leaky ReLU and ELU save their input,
sigmoid and tanh their output (the backward kernels take what is saved). At x = 0 the gradient is
PyTorch's: 0 for ReLU, negative_slope for leaky ReLU, alpha for ELU and PReLU's slope (the kernels
test x > 0).
"""
from __future__ import annotations

import numpy as np

from .core import Function
from .device import kernels_of, xp_of
from .grad_mode import STATE

__all__ = ["Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "PRelu", "Relu6", "relu", "leaky_relu", "elu",
           "sigmoid", "tanh", "prelu", "relu6"]


class _Act(Function):
    """y = <name>_forward(x, **kw); backward <name>_backward(g, saved, **kw) with saved = x or y."""
    save_output = False

    kernel = None   # the kernels' stem when it is not the op's name

    def __init_subclass__(cls):
        stem = cls.kernel or cls.name
        if stem:   # an intermediate base (_KernelAct) has none
            cls._fwd, cls._bwd = stem + "_forward", stem + "_backward"

    @classmethod
    def forward(cls, ctx, x, **kw):
        K = kernels_of(x)
        y = getattr(K, cls._fwd)(x, **kw)
        if ctx.needs_input_grad[0]:
            ctx.saved, ctx.K, ctx.kw = (y if cls.save_output else x), K, kw
        return y

    @classmethod
    def backward(cls, ctx, g):
        return getattr(ctx.K, cls._bwd)(g, ctx.saved, **ctx.kw)


class Relu(_Act):
    name = "relu"


class LeakyRelu(_Act):
    name = "leaky_relu"


class Elu(_Act):
    name = "elu"


class Sigmoid(_Act):
    name, save_output = "sigmoid", True


class Tanh(_Act):
    name, save_output = "tanh", True


def relu(input, inplace=False):
    return Relu.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return LeakyRelu.apply(input, negative_slope=float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    return Elu.apply(input, alpha=float(alpha))


def sigmoid(input):
    return Sigmoid.apply(input)


def tanh(input):
    return Tanh.apply(input)


class PRelu(Function):
    """y = x if x > 0 else a·x, a per channel (axis 1) or shared; dL/da sums over every other axis."""
    name = "prelu"

    @staticmethod
    def forward(ctx, x, a):
        shape = [1] * x.ndim
        if a.size > 1:
            shape[1] = a.size
        ar = a.reshape(shape)
        ctx.x, ctx.ar, ctx.ashape = x, ar, a.shape
        return np.where(x > 0, x, ar * x)

    @staticmethod
    def backward(ctx, g):
        x, ar = ctx.x, ctx.ar
        n = ctx.needs_input_grad
        gx = np.where(x > 0, g, ar * g) if n[0] else None
        ga = None
        if n[1]:
            t = np.where(x > 0, 0, x * g)
            axes = tuple(i for i in range(x.ndim) if not (ar.shape[i] > 1))
            ga = t.sum(axis=axes).reshape(ctx.ashape)
        return gx, ga


def prelu(input, weight):
    """input (N, C, ...) and weight (C,) or (1,)."""
    if weight.numel() not in (1, input.shape[1] if input.ndim > 1 else 1):
        raise ValueError(f"prelu: weight {tuple(weight.shape)} must have 1 or C={input.shape[1]} elements "
                         f"for input {tuple(input.shape)}")
    return PRelu.apply(input, weight)


class Relu6(_Act):
    """min(max(x, 0), 6); the gradient is 0 where x ≤ 0 or x ≥ 6 (torch's hardtanh)."""
    name = "relu6"
    torch_name = "HardtanhBackward0"


def relu6(input, inplace=False):
    """inplace=True clips input's own storage when no graph is recorded (grad mode off, or input
    needs no gradient), as torch does; inside a graph it runs out of place (the result is the same
    and the backward keeps hardtanh's strict (0, 6) mask). Clipping in place also saves a fresh
    array's page faults per call in inference."""
    if inplace and not (STATE.grad_enabled and input.requires_grad) and input._data.dtype.kind == "f":
        return input.clamp_(0, 6)
    return Relu6.apply(input)


# ---------------------------------------------------------------------------------------------------
# The smooth and piecewise-linear activations torch.nn.functional has beyond the first kernel-backed
# ones. GELU (exact and tanh), SiLU, Mish, Hardswish, Hardsigmoid, Softplus and LogSigmoid run on the
# activation kernels (_KernelAct below). SELU, CELU, Softsign, Hardtanh, Tanhshrink, Softshrink,
# Hardshrink and Threshold are each one NumPy (CuPy) expression forward and its closed-form
# derivative backward (saved: the input), in the input's dtype.
# At a kink the gradient is torch's (the comparisons below are torch's, strict or not, side by side).
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _float_only(fn, x):
    if not (hasattr(x, "dtype") and x.dtype.kind == "f"):
        got = getattr(x, "dtype", type(x).__name__)
        raise TypeError(f"{fn}: expected a floating-point tensor, got dtype {got}")


class _Pointwise(Function):
    """y = f(x, xp, *params), dx = g·df(x, y, xp, *params); the params are Python numbers."""
    save_output = False

    @classmethod
    def forward(cls, ctx, x, *params):
        _float_only(cls.name, x)
        xp = np if isinstance(x, np.ndarray) else xp_of(x)
        with np.errstate(over="ignore", invalid="ignore"):
            y = cls.f(x, xp, *params)
        y = y.astype(x.dtype, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.x, ctx.y, ctx.params = x, (y if cls.save_output else None), params
        return y

    @classmethod
    def backward(cls, ctx, g):
        x = ctx.x
        xp = np if isinstance(x, np.ndarray) else xp_of(x)
        with np.errstate(over="ignore", invalid="ignore"):
            d = cls.df(x, ctx.y, xp, *ctx.params)
        return (g * d).astype(x.dtype, copy=False)


class Celu(_Pointwise):
    """The ELU family: scale·(x for x > 0, α(e^(k·x) − 1) for x ≤ 0); CELU(α) has k = 1/α, scale 1; SELU has
    k = 1 and its fixed α, scale. d = scale for x > 0, scale·α·k·e^(k·x) for x ≤ 0 (torch's: at 0 the
    negative branch)."""
    name = "celu"

    @staticmethod
    def f(x, xp, alpha, k, scale):
        return scale * xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0) * k))

    @staticmethod
    def df(x, y, xp, alpha, k, scale):
        return scale * xp.where(x > 0, 1.0, alpha * k * xp.exp(xp.minimum(x, 0) * k))


class Selu(Celu):
    name = "selu"


class Softsign(_Pointwise):
    """x/(1 + |x|); d = 1/(1 + |x|)²."""
    name = "softsign"

    @staticmethod
    def f(x, xp):
        return x / (1.0 + xp.abs(x))

    @staticmethod
    def df(x, y, xp):
        a = 1.0 + xp.abs(x)
        return 1.0 / (a * a)


class Hardtanh(_Pointwise):
    """clamp(x, min_val, max_val); d = 1 strictly between the bounds."""
    name = "hardtanh"

    @staticmethod
    def f(x, xp, lo, hi):
        return xp.clip(x, lo, hi)

    @staticmethod
    def df(x, y, xp, lo, hi):
        return ((x > lo) & (x < hi)).astype(x.dtype)


class Tanhshrink(_Pointwise):
    """x − tanh x; d = tanh²x."""
    name = "tanhshrink"

    @staticmethod
    def f(x, xp):
        return x - xp.tanh(x)

    @staticmethod
    def df(x, y, xp):
        t = xp.tanh(x)
        return t * t


class Softshrink(_Pointwise):
    """x − λ above λ, x + λ below −λ, 0 between; d = 0 on the closed [−λ, λ]."""
    name = "softshrink"

    @staticmethod
    def f(x, xp, lambd):
        return xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, 0.0))

    @staticmethod
    def df(x, y, xp, lambd):
        return ((x < -lambd) | (x > lambd)).astype(x.dtype)


class Hardshrink(_Pointwise):
    """x where |x| > λ, 0 on [−λ, λ]; d the same mask."""
    name = "hardshrink"

    @staticmethod
    def f(x, xp, lambd):
        return xp.where((x < -lambd) | (x > lambd), x, 0.0)

    @staticmethod
    def df(x, y, xp, lambd):
        return ((x < -lambd) | (x > lambd)).astype(x.dtype)


class Threshold(_Pointwise):
    """x where x > threshold, value elsewhere; d = 1 where x > threshold."""
    name = "threshold"

    @staticmethod
    def f(x, xp, threshold, value):
        return xp.where(x > threshold, x, value)

    @staticmethod
    def df(x, y, xp, threshold, value):
        return (x > threshold).astype(x.dtype)


class _KernelAct(_Act):
    """The kernel-backed ones whose backward takes x, with _Pointwise's dtype check first; their
    parameters come positionally (as the ONNX exporters read them) and go to the kernels by name."""
    params = ()

    @classmethod
    def forward(cls, ctx, x, *args):
        _float_only(cls.name, x)
        return super().forward(ctx, x, **dict(zip(cls.params, args)))


class Gelu(_KernelAct):
    """'none': x·Φ(x), Φ the normal CDF; 'tanh': ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    name, params = "gelu", ("approximate",)


class Silu(_KernelAct):
    """x·σ(x)."""
    name = "silu"


class Mish(_KernelAct):
    """x·tanh(softplus(x))."""
    name = "mish"


class Hardswish(_KernelAct):
    """x·relu6(x + 3)/6; d = 0 for x ≤ −3, x/3 + ½ below 3, 1 from 3 on (torch's ends)."""
    name = "hardswish"


class Hardsigmoid(_KernelAct):
    """relu6(x + 3)/6; d = 1/6 strictly inside (−3, 3) (torch's float64 backward uses float32's 1/6,
    3e-8 off; the kernel's is exact)."""
    name = "hardsigmoid"


class Softplus(_KernelAct):
    """log(1 + e^(βx))/β, x itself where βx > threshold; d = σ(βx) (1 above the threshold)."""
    name, params = "softplus", ("beta", "threshold")


class LogSigmoid(_KernelAct):
    """log σ(x) = −softplus(−x); d = σ(−x)."""
    name, kernel = "log_sigmoid", "logsigmoid"


def _number(fn, what, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: argument '{what}' must be a number, got {type(v).__name__}")
    return float(v)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(input, approximate)


def silu(input, inplace=False):
    return Silu.apply(input)


def mish(input, inplace=False):
    return Mish.apply(input)


def hardswish(input, inplace=False):
    return Hardswish.apply(input)


def hardsigmoid(input, inplace=False):
    return Hardsigmoid.apply(input)


def selu(input, inplace=False):
    return Selu.apply(input, _SELU_ALPHA, 1.0, _SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    alpha = _number("celu", "alpha", alpha)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError in torch)")
    return Celu.apply(input, alpha, 1.0 / alpha, 1.0)


def softplus(input, beta=1.0, threshold=20.0):
    beta = _number("softplus", "beta", beta)
    if beta == 0:
        raise ValueError("softplus: beta must not be 0, got 0")
    return Softplus.apply(input, beta, _number("softplus", "threshold", threshold))


def softsign(input):
    return Softsign.apply(input)


def logsigmoid(input):
    return LogSigmoid.apply(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    lo, hi = _number("hardtanh", "min_val", min_val), _number("hardtanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({min_val}) must be less than or equal to max_val ({max_val})")
    return Hardtanh.apply(input, lo, hi)


def tanhshrink(input):
    return Tanhshrink.apply(input)


def softshrink(input, lambd=0.5):
    lambd = _number("softshrink", "lambd", lambd)
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be greater or equal to 0, got {lambd}")
    return Softshrink.apply(input, lambd)


def hardshrink(input, lambd=0.5):
    return Hardshrink.apply(input, _number("hardshrink", "lambd", lambd))


def threshold(input, threshold, value, inplace=False):
    return Threshold.apply(input, _number("threshold", "threshold", threshold), _number("threshold", "value", value))


__all__ += ["Gelu", "Silu", "Mish", "Hardswish", "Hardsigmoid", "Selu", "Celu", "Softplus", "Softsign",
            "LogSigmoid", "Hardtanh", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "gelu", "silu",
            "mish", "hardswish", "hardsigmoid", "selu", "celu", "softplus", "softsign", "logsigmoid", "hardtanh",
            "tanhshrink", "softshrink", "hardshrink", "threshold"]


def glu(input, dim=-1):
    """a·σ(b) with a, b = input split in two halves along dim (whose size must be even)."""
    from .core import Tensor
    if not isinstance(input, Tensor):
        raise TypeError(f"glu: input must be a pyengine.Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise ValueError("glu: does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} is size {n}")
    d = dim % input.ndim
    head = (slice(None),) * d
    return input[head + (slice(0, n // 2),)] * sigmoid(input[head + (slice(n // 2, n),)])


__all__ += ["glu"]


class RRelu(Function):
    """Randomized leaky ReLU (torch's rrelu). Training: y = x·r where x <= 0, r ~ U(lower, upper) drawn
    per element from the seed (the global generator's next), y = x elsewhere; dx = g·noise with
    noise = r where x <= 0 and 1 elsewhere. Evaluation: leaky_relu with slope (lower + upper)/2
    (x > 0 keeps x; the gradient at 0 is the slope, as torch's leaky_relu)."""
    name = "rrelu"

    @staticmethod
    def forward(ctx, x, lower, upper, training, seed):
        _float_only("rrelu", x)
        xp = np if isinstance(x, np.ndarray) else xp_of(x)
        if training:
            r = np.random.default_rng(seed).uniform(lower, upper, x.shape).astype(x.dtype)
            noise = xp.where(x <= 0, xp.asarray(r), x.dtype.type(1))
        else:
            noise = xp.where(x > 0, x.dtype.type(1), x.dtype.type((lower + upper) / 2))
        noise = noise.astype(x.dtype, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.noise = noise
        return x * noise

    @staticmethod
    def backward(ctx, g):
        return g * ctx.noise


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """x where x > 0 (training: x >= 0), a·x elsewhere; a ~ U(lower, upper) per element in training,
    (lower + upper)/2 in evaluation. Out of place even with inplace=True."""
    from .generator import default_generator
    lower, upper = _number("rrelu", "lower", lower), _number("rrelu", "upper", upper)
    if not lower <= upper:
        raise ValueError(f"rrelu: lower must be <= upper, got lower={lower} and upper={upper}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"rrelu: training must be a bool, got {type(training).__name__} {training!r}")
    seed = default_generator.next_seed() if training else 0
    return RRelu.apply(input, lower, upper, bool(training), seed)


__all__ += ["RRelu", "rrelu"]
