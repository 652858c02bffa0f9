"""The README's save / load / evaluate example runs as written."""
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")


def test_readme_save_load_evaluate_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend")
    if not os.path.exists(README):
        pytest.skip("README.md not next to the tests (installed package)")
    with open(README, encoding="utf-8") as f:
        section = f.read().split("## Models in and out", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README-models", "exec"), scope)
    import pyengine
    assert type(scope["reloaded"]) is type(scope["model"]) and (tmp_path / "digits.safetensors").exists()
    assert 0.0 <= scope["result"].accuracy <= 1.0 and scope["result"].n == 1250
    assert isinstance(scope["reloaded"], pyengine.nn.Module)
