"""pyengine.save / pyengine.load without the model's code: the architecture as JSON in the header."""
import json
import struct

import numpy as np
import pytest

import pyengine
from pyengine import io as pio
from pyengine import models, nn
from pyengine.io.architecture import ArchitectureError, describe

from layer_cases import INDEX_LAYERS, LAYERS, LOSSES, covered, layer_classes


def _input(shape, seed=0):
    return pyengine.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy(), err_msg=k)


def _outputs(m, shapes):
    m.eval()
    if type(m).__name__ in INDEX_LAYERS:
        xs = [pyengine.from_numpy(np.random.default_rng(i).integers(0, m.num_embeddings, s)) for i, s in enumerate(shapes)]
    else:
        xs = [_input(s, i) for i, s in enumerate(shapes)]
    with pyengine.no_grad():
        y = m(*xs)
    if isinstance(y, tuple):
        y = y[0]
    return y.numpy()


def test_every_layer_has_a_case():
    missing = layer_classes() - covered()
    assert not missing, f"add these layers to tests/layer_cases.py: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_reloads_without_code(name, tmp_path):
    build, shapes = LAYERS[name]
    pyengine.manual_seed(1)
    m = build()
    for b in m.buffers():                 # non-trivial running statistics
        if b.dtype.kind == "f":
            b._data[...] = np.random.default_rng(2).random(b.shape) + 0.5
    pio.save(m, tmp_path / "m.safetensors")
    r = pyengine.load(tmp_path / "m.safetensors")
    assert type(r) is type(m) and repr(r) == repr(m)
    _same_state(m, r)
    np.testing.assert_array_equal(_outputs(r, shapes), _outputs(m, shapes))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_reload_with_their_options(name, tmp_path):
    m = LOSSES[name]()
    pio.save(nn.Sequential(m), tmp_path / "m.safetensors")
    r = pyengine.load(tmp_path / "m.safetensors")[0]
    assert type(r) is type(m) and r.__dict__.get("_init_args") == m.__dict__.get("_init_args")


def test_nested_containers_of_every_layer(tmp_path):
    tree = nn.Sequential(
        nn.ModuleDict({"stem": nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6()),
                       "skip": nn.Identity()}),
        nn.ModuleList([nn.Linear(2, 3), nn.LSTM(3, 2, num_layers=2), nn.Tanh()]),
        nn.Sequential(),
    )
    tree.train(False)
    pio.save(tree, tmp_path / "t.safetensors")
    r = pio.load(tmp_path / "t.safetensors")
    assert repr(r) == repr(tree) and not r.training and not r[0]["stem"][1].training
    _same_state(tree, r)
    x = _input((2, 3, 5, 5))
    with pyengine.no_grad():
        np.testing.assert_array_equal(r[0]["stem"](x).numpy(), tree[0]["stem"](x).numpy())


ZOO_SIDES = {"lenet5": (1, 28), "digit_cnn": (1, 28), "alexnet": (3, 64), "vgg11": (3, 32), "vgg16": (3, 32),
             "vgg16_bn": (3, 32), "resnet18": (3, 32), "resnet34": (3, 32), "resnet50": (3, 32),
             "mobilenet_v2": (3, 32), "squeezenet1_1": (3, 48)}


@pytest.mark.parametrize("name", sorted(ZOO_SIDES))
def test_every_zoo_model_reloads_without_code(name, tmp_path):
    pyengine.manual_seed(0)
    m = models.get_model(name, num_classes=5)
    path = tmp_path / f"{name}.safetensors"
    pyengine.save(m, path)
    r = pyengine.load(path)
    assert type(r) is type(m)
    _same_state(m, r)
    c, side = ZOO_SIDES[name]
    np.testing.assert_array_equal(_outputs(r, [(1, c, side, side)]), _outputs(m, [(1, c, side, side)]))


def test_a_zoo_model_with_a_new_head_and_a_frozen_part(tmp_path):
    pyengine.manual_seed(0)
    m = models.resnet18()
    m.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(512, 3))
    m.avgpool = nn.AdaptiveAvgPool2d(1)
    pyengine.save(m, tmp_path / "ft.safetensors")
    meta = pio.read_metadata(tmp_path / "ft.safetensors")
    root = json.loads(meta["pyengine.architecture"])["root"]
    assert root["type"] == "zoo" and root["model"] == "resnet18"
    assert root["children"]["fc"]["type"] == "nn.Sequential"
    r = pyengine.load(tmp_path / "ft.safetensors")
    assert isinstance(r.fc, nn.Sequential) and r.fc[1].out_features == 3
    _same_state(m, r)
    np.testing.assert_array_equal(_outputs(r, [(2, 3, 32, 32)]), _outputs(m, [(2, 3, 32, 32)]))


@pio.register_architecture
class TwoTower(nn.Module):
    def __init__(self, width=4, act="tanh", sizes=(3, 2), dtype=np.float32):
        super().__init__()
        self.a = nn.Linear(sizes[0], width, dtype=dtype)
        self.b = nn.Linear(sizes[0], width, dtype=dtype)
        self.act = nn.Tanh() if act == "tanh" else nn.ReLU()
        self.head = nn.Linear(width, sizes[1], dtype=dtype)

    def forward(self, x):
        return self.head(self.act(self.a(x)) * self.act(self.b(x)))


class WithGetConfig(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.n = n
        self.lin = nn.Linear(n, n)

    def get_config(self):
        return {"n": self.n}

    def forward(self, x):
        return self.lin(x)


pio.register_architecture(WithGetConfig, name="tests.WithGetConfig")


def test_user_registered_architectures(tmp_path):
    pyengine.manual_seed(0)
    m = nn.Sequential(TwoTower(width=6, act="relu", sizes=(3, 4), dtype=np.float64), WithGetConfig(4))
    pio.save(m, tmp_path / "u.safetensors")
    r = pio.load(tmp_path / "u.safetensors")
    assert isinstance(r[0], TwoTower) and isinstance(r[0].act, nn.ReLU) and r[0].head.weight.dtype == np.float64
    assert isinstance(r[1], WithGetConfig) and r[1].n == 4
    _same_state(m, r)
    x = pyengine.from_numpy(np.ones((2, 3)))
    with pyengine.no_grad():
        np.testing.assert_array_equal(r[0](x).numpy(), m[0](x).numpy())


class NotRegistered(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x)


def test_an_unregistered_class_saves_weights_and_says_why_it_cannot_reload(tmp_path):
    m = nn.Sequential(nn.ReLU(), NotRegistered())
    pio.save(m, tmp_path / "n.safetensors")
    with pytest.raises(ValueError, match=r"model\.1 is a .*NotRegistered, which is neither a built-in layer nor a "
                                         r"registered architecture.*register_architecture"):
        pio.load(tmp_path / "n.safetensors")
    r = pio.load(tmp_path / "n.safetensors", nn.Sequential(nn.ReLU(), NotRegistered()))   # weights only still work
    _same_state(m, r)
    with pytest.raises(ArchitectureError, match="NotRegistered"):
        describe(m)


def test_registering_a_taken_name_is_refused():
    class TwoTower(nn.Module):            # another class under the same name
        pass
    TwoTower.__module__ = "elsewhere"
    with pytest.raises(ValueError, match="already taken"):
        pio.register_architecture(TwoTower)
    with pytest.raises(TypeError, match="nn.Module subclass"):
        pio.register_architecture(int)


def _with_header(tmp_path, arch, tensors=None):
    tensors = tensors or {"w": np.zeros((2, 2), np.float32)}
    pio.save_file(tensors, tmp_path / "h.safetensors",
                  {"architecture": "Sequential", "pyengine.architecture": arch if isinstance(arch, str)
                   else json.dumps(arch)})
    return tmp_path / "h.safetensors"


@pytest.mark.parametrize("arch, message", [
    ("{not json", "not valid JSON"),
    ({"format": 99, "root": {}}, "unsupported description"),
    ({"root": {"type": "os.system", "config": {}}}, "unknown module type 'os.system'"),
    ({"root": {"type": "nn.Linear", "config": {"in_features": 10 ** 9, "out_features": 10 ** 9}}},
     "larger than any tensor dimension"),
    ({"root": {"type": "nn.Sequential", "children": {str(i): {"type": "nn.Linear", "config": {
        "in_features": 4000, "out_features": 4000}} for i in range(40)}}}, "more than the file's tensors"),
    ({"root": {"type": "nn.Linear", "config": {"in_features": "x", "out_features": 3}}}, "cannot build nn.Linear"),
    ({"root": {"type": "nn.Linear", "config": {"bogus": 1}}}, "cannot build nn.Linear"),
    ({"root": {"type": "nn.Linear", "config": [1, 2]}}, "'config' must be a JSON object"),
    ({"root": {"type": "nn.Sequential", "children": []}}, "'children' must be a JSON object"),
    ({"root": {"type": "zoo", "model": "resnet99", "config": {}}}, "unknown model 'resnet99'"),
    ({"root": {"type": "nn.Conv2d", "config": {"in_channels": 2, "out_channels": 2, "kernel_size": {
        "__class__": "os.system"}}}}, "unknown class"),
    ({"root": {"type": "nn.Linear", "config": {"in_features": 2, "out_features": 2, "dtype": {
        "__dtype__": "object"}}}}, "cannot build"),
    ("[" * 100000 + "]" * 100000, "not valid JSON"),
])
def test_hostile_descriptions_are_refused_clearly(tmp_path, arch, message):
    path = _with_header(tmp_path, arch)
    with pytest.raises(ValueError, match=message):
        pio.load(path)


def test_a_deep_description_is_refused(tmp_path):
    node = {"type": "nn.Identity", "config": {}}
    for _ in range(200):
        node = {"type": "nn.Sequential", "children": {"0": node}}
    with pytest.raises(ValueError, match="deeper than"):
        pio.load(_with_header(tmp_path, {"root": node}))


def test_files_of_arrays_and_older_files_still_load(tmp_path):
    pio.save({"a": np.arange(3.0)}, tmp_path / "d.safetensors")
    assert list(pio.load(tmp_path / "d.safetensors")) == ["a"]
    # a file from before whole architectures were stored: class name and config only
    m = models.DigitCNN(num_classes=4)
    pio.save_file(m.state_dict(), tmp_path / "old.safetensors",
                  {"architecture": "DigitCNN", "config": json.dumps(m.config)})
    r = pio.load(tmp_path / "old.safetensors")
    assert isinstance(r, models.DigitCNN) and r.fc.out_features == 4
    _same_state(m, r)
