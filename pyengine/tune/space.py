"""Search spaces for hyperparameter tuning: the command-line syntax and its Python equivalents.

One parameter's range, on the command line or as a value of a Python dict:

    "1e-4:1e-1:log"   Float(1e-4, 1e-1, log=True)   log-uniform between the bounds
    "0:1e-3"          Float(0, 1e-3)                uniform between the bounds
    "16:128:int"      Int(16, 128)                  integers between the bounds (":int:log" too)
    "32,64,128"       Categorical([32, 64, 128])    one of the values (numbers are parsed)
    "sgdm,adam"       Categorical(["sgdm", "adam"])
    "0.9"             Categorical([0.9])            fixed

In a dict, a list means Categorical, a (low, high) tuple Float, (low, high, "log") a log-uniform
Float, and (low, high, "int") an Int. ``grid_values`` turns each range into the points the grid
sampler visits (``grid_points`` of them; geometric for a log range).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Float", "Int", "Categorical", "parse", "parse_space", "grid_values"]


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        _check_bounds(self)

    def suggest(self, trial, name):
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def __str__(self):
        return f"{self.low:g}:{self.high:g}" + (":log" if self.log else "")


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    log: bool = False

    def __post_init__(self):
        _check_bounds(self)

    def suggest(self, trial, name):
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def __str__(self):
        return f"{self.low}:{self.high}:int" + (":log" if self.log else "")


@dataclass(frozen=True)
class Categorical:
    choices: tuple

    def __init__(self, choices):
        choices = tuple(choices)
        if not choices:
            raise ValueError("a categorical search range needs at least one value")
        object.__setattr__(self, "choices", choices)

    def suggest(self, trial, name):
        return trial.suggest_categorical(name, list(self.choices))

    def __str__(self):
        return ",".join(map(str, self.choices))


def _check_bounds(r):
    if not (math.isfinite(r.low) and math.isfinite(r.high)) or r.low >= r.high:
        raise ValueError(f"a search range needs finite low < high, got {r.low} and {r.high}")
    if r.log and r.low <= 0:
        raise ValueError(f"a log search range needs low > 0, got {r.low}")


def _number(text):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse(spec, name: str = "parameter"):
    """One range from its text (the command-line syntax above), list, tuple or range object."""
    if isinstance(spec, (Float, Int, Categorical)):
        return spec
    if isinstance(spec, list):
        return Categorical(spec)
    if isinstance(spec, tuple):
        if len(spec) == 2:
            return Float(float(spec[0]), float(spec[1]))
        if len(spec) == 3 and spec[2] in ("log", "int"):
            return Float(float(spec[0]), float(spec[1]), log=True) if spec[2] == "log" \
                else Int(int(spec[0]), int(spec[1]))
        raise ValueError(f"{name}: a tuple range is (low, high), (low, high, 'log') or (low, high, 'int'), got {spec!r}")
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"{name}: expected a range like 1e-4:1e-1:log, 0:1e-3, 16:128:int or a list "
                         f"like 32,64,128, got {spec!r}")
    text = spec.strip()
    if ":" in text:
        parts = text.split(":")
        flags = [p.strip().lower() for p in parts[2:]]
        if len(parts) < 2 or any(f not in ("log", "int") for f in flags) or len(set(flags)) != len(flags):
            raise ValueError(f"{name}: {spec!r} is not LOW:HIGH[:log][:int]")
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"{name}: bounds of {spec!r} must be numbers") from None
        try:
            if "int" in flags:
                if lo != int(lo) or hi != int(hi):
                    raise ValueError(f"{name}: an :int range needs integer bounds, got {spec!r}")
                return Int(int(lo), int(hi), log="log" in flags)
            return Float(lo, hi, log="log" in flags)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return Categorical([_number(v.strip()) for v in text.split(",") if v.strip()])


def parse_space(space: dict) -> dict:
    """{name: range} from a dict of specs (strings, lists, tuples or range objects)."""
    if not isinstance(space, dict) or not space:
        raise ValueError(f"the search space must be a non-empty dict of parameter ranges, got {space!r}")
    return {name: parse(spec, name) for name, spec in space.items()}


def grid_values(r, grid_points: int = 3) -> list:
    """The values the grid sampler tries for one range."""
    if isinstance(r, Categorical):
        return list(r.choices)
    n = max(2, int(grid_points))
    if r.log:
        a, b = math.log(r.low), math.log(r.high)
        vals = [math.exp(a + (b - a) * k / (n - 1)) for k in range(n)]
    else:
        vals = [r.low + (r.high - r.low) * k / (n - 1) for k in range(n)]
    if isinstance(r, Int):
        return sorted({int(round(v)) for v in vals})
    return [float(f"{v:.6g}") for v in vals]


def contains(r, value) -> bool:
    if isinstance(r, Categorical):
        return value in r.choices
    return r.low <= value <= r.high and (not isinstance(r, Int) or value == int(value))
