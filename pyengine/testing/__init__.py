"""pyengine.testing — the gradient checker and the op registry that drives the kernel tests."""
from .gradcheck import GradcheckError, gradcheck, numeric_vjp, rel_error

__all__ = ["gradcheck", "GradcheckError", "numeric_vjp", "rel_error"]
