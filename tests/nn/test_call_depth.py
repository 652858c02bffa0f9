"""How many Python frames a layer call runs between ``Module.__call__`` and the kernel (the ``_C``
call): at most 3 for the common layers (``Layer.forward``, ``Function.apply``, the Function's
``forward``), so a batch-1 forward pays for little Python beyond the kernels.

Counted with ``sys.setprofile`` in a child running the plain-Python twins (PYENGINE_PURE_PYTHON=1):
the Cython-compiled modules make no Python frames at all, so the plain Python is the count that can
grow when a layer gains a helper in its path."""
import json

from support import run_python

CHILD = r"""
import json, sys
import pyengine as pe
from pyengine import nn

def depth(layer, x):
    stack, seen = [], {}
    def prof(frame, event, arg):
        if event == "call":
            stack.append(frame.f_code.co_qualname)
        elif event == "return":
            stack.pop()
        elif event == "c_call" and "pyengine._C" in str(getattr(arg, "__module__", None)):
            top = max(i for i, q in enumerate(stack) if q == "Module.__call__")
            seen[arg.__name__] = stack[top + 1:]
    sys.setprofile(prof)
    try:
        layer(x)
    finally:
        sys.setprofile(None)
    return seen

cases = {
    "Conv2d": (nn.Conv2d(3, 4, 3, padding=1), pe.randn(1, 3, 8, 8)),
    "Conv2d stride 2": (nn.Conv2d(3, 4, 3, stride=2), pe.randn(2, 3, 9, 9, requires_grad=True)),
    "Linear": (nn.Linear(5, 4), pe.randn(2, 5)),
    "MaxPool2d": (nn.MaxPool2d(2), pe.randn(1, 3, 4, 4)),
    "ReLU": (nn.ReLU(), pe.randn(1, 3, 4, 4)),
}
print(json.dumps({"status": pe._compiled.status()["pyengine.nn.layers"],
                  "depth": {k: depth(*v) for k, v in cases.items()}}))
"""


def test_at_most_three_python_frames_between_a_layer_call_and_its_kernel():
    r = run_python(code=CHILD, env={"PYENGINE_PURE_PYTHON": "1", "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["status"].startswith("python"), out["status"]
    for layer, calls in out["depth"].items():
        assert calls, f"{layer}: no _C call seen"        # the count below must have something to count
        for kernel, frames in calls.items():
            assert len(frames) <= 3, f"{layer} -> {kernel}: {len(frames)} Python frames: {frames}"
            assert frames[-2:][0] == "Function.apply", (layer, frames)
