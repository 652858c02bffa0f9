"""The Cython-compiled core and its plain-Python twin: the switch between them (PYENGINE_PURE_PYTHON),
the stale-build guard, and the same results from both on a training step."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

import pyengine
from pyengine import _compiled

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pyengine.__file__)))

STEP = r"""
import json, numpy as np, pyengine as pe
from pyengine import nn
pe.manual_seed(0)
m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                  nn.Linear(4 * 4 * 4, 3))
opt = pe.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
x = pe.randn(5, 1, 8, 8)
y = pe.tensor([0, 1, 2, 0, 1])
for _ in range(3):
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()(m(x), y)
    loss.backward()
    opt.step()
h = x[:, 0, 0, :4].detach() * 1
h.mul_(2)
print(json.dumps({"loss": float(loss.item()), "w": m[0].weight.numpy().ravel().tolist()[:6],
                  "status": pe._compiled.status()}))
"""


def _run(env_extra):
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", STEP], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_status_names_every_module():
    st = _compiled.status()
    assert set(st) == set(_compiled.MODULES)
    assert all(v == "compiled" or v.startswith("python (") for v in st.values())


def test_pure_python_twin_gives_the_same_training_step():
    pure = _run({"PYENGINE_PURE_PYTHON": "1"})
    assert all(v == "python (PYENGINE_PURE_PYTHON)" for v in pure["status"].values())
    default = _run({"PYENGINE_PURE_PYTHON": ""})
    assert default["loss"] == pytest.approx(pure["loss"], rel=1e-6)
    assert default["w"] == pytest.approx(pure["w"], rel=1e-6)
    if not any(v == "compiled" for v in default["status"].values()):
        pytest.skip("this build has no Cython-compiled modules: only the plain-Python run could be checked")


def test_one_piece_can_be_switched_back_alone():
    st = _run({"PYENGINE_PURE_PYTHON": "engine"})["status"]
    assert st["pyengine.autograd.engine"] == "python (PYENGINE_PURE_PYTHON)"
    assert st["pyengine.autograd.ops"] != "python (PYENGINE_PURE_PYTHON)"


def test_a_stale_build_never_shadows_newer_source(tmp_path):
    src = tmp_path / "core.py"
    src.write_text("x = 1\n")
    digest = tmp_path / "core.sha256"
    digest.write_text(hashlib.sha256(src.read_bytes()).hexdigest())
    assert _compiled._up_to_date(str(src), str(digest))
    src.write_text("x = 2\n")                  # edited after the build
    assert not _compiled._up_to_date(str(src), str(digest))
    assert not _compiled._up_to_date(str(src), str(tmp_path / "missing.sha256"))
