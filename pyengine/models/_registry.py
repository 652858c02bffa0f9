"""The zoo's name → builder table behind ``list_models`` and ``get_model``.

A builder is registered with ``@register_model``; its name is the function's name (``resnet18``).
Builders take keyword arguments only (``num_classes``, ``weights``, the architecture's options) and
return a fresh Module. The builder tags what it built with its name and arguments (``_zoo``), so
``pyengine.save`` can describe the model as "resnet18(num_classes=10)" plus any changes made since.
"""
from __future__ import annotations

import functools

__all__ = ["register_model", "list_models", "get_model", "get_model_builder"]

_BUILDERS: dict = {}


def register_model(fn):
    """Adds a builder to the zoo under its function name; the built model records (name, kwargs)."""
    name = fn.__name__
    if name in _BUILDERS and _BUILDERS[name] is not fn:
        raise ValueError(f"register_model: a model named {name!r} is already registered")

    @functools.wraps(fn)
    def build(*args, **kwargs):
        if args:
            raise TypeError(f"{name}: takes keyword arguments only (num_classes=..., weights=...), "
                            f"got {len(args)} positional")
        model = fn(**kwargs)
        config = {k: v for k, v in kwargs.items() if k not in ("weights", "progress")}
        model.__dict__["_zoo"] = (name, config)
        return model

    _BUILDERS[name] = build
    return build


def list_models() -> list:
    """The names ``get_model`` accepts, sorted."""
    return sorted(_BUILDERS)


def get_model_builder(name: str):
    if not isinstance(name, str):
        raise TypeError(f"get_model: name must be a str, got {type(name).__name__}")
    def norm(s):
        return s.lower().replace("-", "").replace("_", "")
    for key, build in _BUILDERS.items():
        if norm(key) == norm(name):         # resnet18, ResNet-18, mobilenet-v2, MobileNetV2
            return build
    raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(list_models())}")


def get_model(name: str, **kwargs):
    """``get_model("resnet18", num_classes=10, weights="resnet18.safetensors")``."""
    return get_model_builder(name)(**kwargs)
