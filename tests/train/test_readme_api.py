"""The README's Python API block and its training-options block run as written (one epoch instead
of six, in a temporary folder)."""
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")


def test_readme_api_and_training_options_blocks_run(tmp_path, monkeypatch, capsys):
    if not os.path.exists(README):
        pytest.skip("README.md not next to the tests (installed package)")
    pytest.importorskip("matplotlib")
    from pyengine.data import DataError, load_digits
    try:
        load_digits()
    except DataError:
        pytest.skip("no offline digits installed")
    with open(README, encoding="utf-8") as f:
        section = f.read().split("## The Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    scope = {}
    for code in blocks:
        exec(compile(code.replace("epochs=6", "epochs=1"), "README-api", "exec"), scope)
    assert (tmp_path / "digits.safetensors").exists() and (tmp_path / "training-progress.png").exists()
    rows = (tmp_path / "scalars.csv").read_text().splitlines()
    assert rows[0].startswith("iteration,epoch,loss") and len(rows) > 10
    assert "Base LR" in capsys.readouterr().out
