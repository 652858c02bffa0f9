"""The README's gradcheck example runs as written, and a broken backward in it is caught."""
import os
import re

import pytest

import pyengine
from pyengine.testing import GradcheckError

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")


def _example():
    if not os.path.exists(README):
        pytest.skip("README.md not next to the tests (installed package)")
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Checking gradients", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_gradcheck_example_runs():
    exec(compile(_example(), "README-gradcheck", "exec"), {})


def test_readme_example_catches_a_wrong_backward():
    code = _example().replace("(g * (t - x / c * dt)).sum(axis=0)", "(g * t).sum(axis=0)")
    with pytest.raises(GradcheckError, match=r"gradient of parameter c differs at index"):
        exec(compile(code, "README-gradcheck-broken", "exec"), {})


def test_readme_example_with_a_wrongly_shaped_gradient_names_the_function_and_input():
    code = _example().replace("(g * (t - x / c * dt)).sum(axis=0)", "(g * (t - x / c * dt))")
    with pytest.raises(GradcheckError, match=r"SoftClip.backward returned a gradient of shape \(8, 5\) for "
                                             r"input 1 of shape \(5,\)"):
        exec(compile(code, "README-gradcheck-shape", "exec"), {})
