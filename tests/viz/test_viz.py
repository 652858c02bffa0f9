"""pyengine.viz: the numbers behind every picture checked against an independent computation (torch
for the gradients, a hand-run forward for the activations, a model whose answer is known for
occlusion), the traced layer graph of a chain and of a residual network, the PNG files decoded and
their content checked, and `pyengine visualize` end to end."""
import os

import numpy as np
import pytest

import pyengine
from pyengine import nn
from pyengine.train import DigitCNN

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

from pyengine import viz  # noqa: E402


class Block(nn.Module):
    """torchvision's BasicBlock, in miniature: two 3x3 convolutions, a shortcut (1x1 conv when the
    shape changes), the ReLU module used twice."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.block1 = Block(8, 8, 1)
        self.block2 = Block(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool(self.block2(self.block1(self.stem(x))))
        return self.fc(x.reshape(x.shape[0], -1))


@pytest.fixture(scope="module")
def model():
    pyengine.manual_seed(0)
    m = DigitCNN()
    # non-trivial batch-norm statistics, as after training
    rng = np.random.default_rng(0)
    for name, buf in m.named_buffers():
        if name.endswith("running_mean"):
            buf._data[...] = rng.standard_normal(buf.shape).astype(np.float32) * 0.1
        if name.endswith("running_var"):
            buf._data[...] = rng.uniform(0.5, 1.5, buf.shape).astype(np.float32)
    m.eval()
    return m


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 6:22, 12:15] = 1.0                      # a rough "1" with some noise
    img[0, 6:9, 9:15] = 1.0
    return np.clip(img + 0.05 * rng.standard_normal(img.shape), 0, 1).astype(np.float32)


def _png(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _torch_digit_cnn(model):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class T(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(), tnn.MaxPool2d(2, 2),
                tnn.Conv2d(8, 16, 3, padding=1), tnn.BatchNorm2d(16), tnn.ReLU(), tnn.MaxPool2d(2, 2),
                tnn.Conv2d(16, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU())
            self.fc = tnn.Linear(32 * 7 * 7, 10)

        def forward(self, x):
            return self.fc(self.features(x).flatten(1))

    t = T().double()
    t.load_state_dict({k: torch.tensor(np.asarray(v.numpy(), np.float64)) for k, v in model.state_dict().items()})
    return torch, t.eval()


def test_layer_names(model):
    aliases = viz.layer_aliases(model)
    assert aliases["conv2"][0] == "features.4" and aliases["relu3"][0] == "features.10"
    assert aliases["pool2"][0] == "features.7" and aliases["fc1"][0] == "fc" and aliases["bn1"][0] == "features.1"
    assert viz.find_layer(model, "features.4") == viz.find_layer(model, "conv2")
    with pytest.raises(ValueError, match="'conv9' is not in the model; its layers: conv1, bn1"):
        viz.find_layer(model, "conv9")
    with pytest.raises(TypeError, match="layer name"):
        viz.find_layer(model, 3)


def test_activations_match_a_forward_by_hand(model, image):
    x = pyengine.tensor(image[None])
    with pyengine.no_grad():
        expect = model.features[:7](x).numpy()[0] if hasattr(model.features, "__getitem__") else None
    if expect is None:
        with pyengine.no_grad():
            h = x
            for k in range(7):
                h = model.features._modules[str(k)](h)
            expect = h.numpy()[0]
    act = viz.activations(model, image, "relu2")
    np.testing.assert_allclose(act, expect, rtol=1e-6, atol=1e-6)
    assert viz.strongest_channel(act) == int(np.argmax(expect.reshape(16, -1).max(axis=1)))


def test_plot_activations_tiles_and_mark(model, image, tmp_path):
    path = tmp_path / "act.png"
    fig = viz.plot_activations(model, image, "conv2", path)
    act = viz.activations(model, image, "conv2")
    best = viz.strongest_channel(act)
    assert fig.strongest_channel == best
    tiles = [ax for ax in fig.axes if ax.images and ax.get_title() not in ("input", "")]
    assert len(tiles) == 16
    for ax in tiles:
        k = int(ax.get_title())
        np.testing.assert_allclose(ax.images[0].get_array(), act[k], rtol=1e-6)
        framed = ax.spines["top"].get_linewidth() == 3
        assert framed == (k == best)
    clim = {ax.images[0].get_clim() for ax in tiles}
    assert len(clim) == 1, "one colour scale for every tile"
    assert any(ax.get_ylabel() == "activation" for ax in fig.axes), "colour bar with its label"
    assert f"channel {best}" in fig._suptitle.get_text() and "features.4 [conv2]" in fig._suptitle.get_text()
    img = _png(path)
    red = (img[..., 0] > 200) & (img[..., 1] < 100) & (img[..., 2] < 100)
    assert red.sum() > 100, "the red frame is in the file"


def test_plot_filters_first_and_deeper_layer(model, tmp_path):
    fig = viz.plot_filters("conv1", tmp_path / "f1.png", model=model)
    w = model.features._modules["0"].weight.numpy()
    shown = [ax for ax in fig.axes if ax.images and ax.get_title().isdigit()]
    assert len(shown) == 8
    for ax in shown:
        np.testing.assert_allclose(ax.images[0].get_array(), w[int(ax.get_title()), 0], rtol=1e-6)
    assert "Conv2d 8×1×3×3" in fig._suptitle.get_text()
    fig = viz.plot_filters(model.features._modules["4"], tmp_path / "f2.png")
    grid = [ax for ax in fig.axes if ax.images]
    assert len(grid) == 16 * 8
    w2 = model.features._modules["4"].weight.numpy()
    lim = np.abs(w2).max()
    assert grid[0].images[0].get_clim() == pytest.approx((-lim, lim)), "symmetric scale around 0"
    np.testing.assert_allclose(grid[8 * 3 + 5].images[0].get_array(), w2[3, 5], rtol=1e-6)
    for name in ("f1.png", "f2.png"):
        img = _png(tmp_path / name)
        assert img.shape[0] > 150 and img.std() > 20
    with pytest.raises(ValueError, match="needs a Conv2d layer"):
        viz.plot_filters(model.fc)


def test_saliency_and_grad_cam_match_torch(model, image):
    torch, t = _torch_digit_cnn(model)
    x = torch.tensor(image[None].astype(np.float64), requires_grad=True)
    feats = {}
    t.features[8].register_forward_hook(lambda m, a, o: feats.update(a=o) or o.retain_grad())
    out = t(x)
    k = int(out.argmax())
    out[0, k].backward()
    sal = x.grad.abs().numpy()[0].max(axis=0)
    sal = (sal - sal.min()) / (sal.max() - sal.min())
    np.testing.assert_allclose(viz.saliency(model, image), sal, atol=2e-4)
    A, G = feats["a"].detach().numpy()[0], feats["a"].grad.numpy()[0]
    cam = np.maximum((G.mean(axis=(1, 2))[:, None, None] * A).sum(0), 0)
    cam = torch.nn.functional.interpolate(torch.tensor(cam)[None, None], size=(28, 28), mode="bilinear",
                                          align_corners=False).numpy()[0, 0]
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    ours = viz.grad_cam(model, image, layer="conv3")
    np.testing.assert_allclose(ours, cam, atol=2e-4)
    np.testing.assert_allclose(viz.grad_cam(model, image), ours)       # the last Conv2d by default
    other = (k + 1) % 10
    assert not np.allclose(viz.grad_cam(model, image, target=other, layer="conv3"), ours)
    with pytest.raises(ValueError, match="target must be a class index"):
        viz.saliency(model, image, target=10)
    with pytest.raises(ValueError, match="needs a convolutional feature map"):
        viz.grad_cam(model, image, layer="fc")


def test_occlusion_finds_the_region_that_matters():
    # a linear classifier that looks only at the top-left 8x8 of a 16x16 image
    m = nn.Sequential(nn.Flatten(), nn.Linear(256, 2))
    w = np.zeros((2, 16, 16), np.float32)
    w[0, :8, :8] = 0.1                        # logits 6.4 and 4: the probability is not saturated
    lin = m._modules["1"]
    lin.weight._data[...] = w.reshape(2, 256)
    lin.bias._data[...] = [0.0, 4.0]
    img = np.ones((1, 16, 16), np.float32)
    img[0, 8:, 8:] = 0.0
    heat = viz.occlusion_sensitivity(m, img, target=0, size=4, stride=4)
    assert heat.shape == (16, 16)
    assert heat[:8, :8].min() > 0.5 and heat[8:, 8:].max() == 0 and heat[:8, 12:].max() == 0


def test_deep_dream_raises_the_channel_it_targets(model):
    def objective(img, c):
        return viz.activations(model, img, "conv2")[c].mean()

    rng = np.random.default_rng(0)
    start = (0.5 + 0.1 * rng.standard_normal((1, 28, 28))).astype(np.float32)
    for levels in (1, 3):
        out = viz.deep_dream(model, "conv2", [3, 7], image=start, pyramid_levels=levels, iterations=8)
        assert out.shape == (2, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
        for img, c in zip(out, (3, 7)):
            assert objective(img, c) > objective(start, c) + 0.01, (levels, c)
        # and each image excites its own channel more than the other channel's image does
        assert objective(out[0], 3) > objective(out[1], 3) and objective(out[1], 7) > objective(out[0], 7)
        assert not np.allclose(out[0], out[1])
    short, long = (viz.deep_dream(model, "conv2", [7], image=start, pyramid_levels=1, iterations=n)[0]
                   for n in (3, 20))
    assert objective(long, 7) > objective(short, 7) > objective(start, 7), "more ascent, more activation"
    again = viz.deep_dream(model, "conv2", [3], input_shape=(1, 28, 28), iterations=3, seed=5)
    np.testing.assert_array_equal(again, viz.deep_dream(model, "conv2", [3], input_shape=(1, 28, 28), iterations=3,
                                                        seed=5))
    with pytest.raises(ValueError, match="channel 99 is out of range"):
        viz.deep_dream(model, "conv2", [99], input_shape=(1, 28, 28), iterations=1)
    with pytest.raises(ValueError, match="needs an image or input_shape"):
        viz.deep_dream(model, "conv2", [0])


def test_graph_of_a_chain(model, tmp_path):
    nodes = viz.trace_graph(model, (1, 1, 28, 28))
    assert [n.kind for n in nodes] == ["input", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] * 1 + [
        "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d", "ReLU", "Flatten", "Linear", "output"]
    assert all(n.inputs == [n.id - 1] for n in nodes[1:])
    assert sum(n.params for n in nodes) == sum(p.numel() for p in model.parameters())
    assert nodes[4].shape == (1, 8, 14, 14) and nodes[-1].shape == (1, 10)
    fig = viz.plot_graph(model, (1, 1, 28, 28), tmp_path / "g.png")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "features.4  Conv2d  [conv2]\n16×14×14  ·  1,168 params" in texts
    assert "21,690 parameters" in fig.axes[0].get_title()
    assert _png(tmp_path / "g.png").shape[0] > 600


def test_graph_of_a_residual_network_draws_branches(tmp_path):
    pyengine.manual_seed(0)
    net = TinyResNet()
    nodes = viz.trace_graph(net, (1, 1, 28, 28))
    by = {n.id: n for n in nodes}
    adds = [n for n in nodes if n.kind == "op" and n.label == "add"]
    assert len(adds) == 2 and all(len(a.inputs) == 2 for a in adds)
    # block1: identity shortcut from the stem's output; block2: through the 1x1 downsampling branch
    assert {by[i].label for i in adds[0].inputs} == {"block1.bn2", "stem"}
    assert {by[i].label for i in adds[1].inputs} == {"block2.bn2", "block2.downsample.1"}
    ds = next(n for n in nodes if n.label == "block2.downsample.0")
    conv1 = next(n for n in nodes if n.label == "block2.conv1")
    assert ds.inputs == conv1.inputs and by[ds.inputs[0]].label == "block1.relu"
    relus = [n for n in nodes if n.label == "block1.relu"]
    assert len(relus) == 2 and relus[1].shared
    assert any(n.kind == "op" and n.label == "reshape" for n in nodes)
    assert sum(n.params for n in nodes if not n.shared) == sum(p.numel() for p in net.parameters())
    from pyengine.viz.graph import _layout
    rank, col = _layout(nodes)
    assert col[ds.id] == 1 and col[conv1.id] == 0, "the shortcut branch stands beside the main path"
    assert all(col[n.id] == 0 for n in nodes if n.label in ("block1.conv1", "block2.conv2", "fc", "output"))
    fig = viz.plot_graph(net, (1, 1, 28, 28), tmp_path / "res.png")
    arrows = [p for p in fig.axes[0].patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows) == sum(len(n.inputs) for n in nodes)
    img = _png(tmp_path / "res.png")
    red = (img[..., 0] > 150) & (img[..., 1] < 90) & (img[..., 2] < 90)
    assert red.sum() > 30, "the identity shortcut arc is drawn"


def test_visualize_command(tmp_path, capsys, image):
    from pyengine import io as pio
    from pyengine.cli import main
    pyengine.manual_seed(0)
    m = DigitCNN()
    model_file = tmp_path / "model.safetensors"
    pio.save(m, model_file, metadata={"classes": [str(i) for i in range(10)]})
    np.save(tmp_path / "img.npy", image[0])
    out = tmp_path / "viz"
    assert main(["visualize", str(model_file), str(tmp_path / "img.npy"), "--layer", "conv2", "--filters",
                 "--activations", "--grad-cam", "--saliency", "--occlusion", "--deep-dream", "--channels", "2",
                 "--graph", "--output", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = sorted(os.listdir(out))
    assert names == sorted(["filters-conv2.png", "activations-conv2.png", "grad-cam-conv2.png", "saliency.png",
                            "occlusion.png", "deep-dream-conv2.png", "graph.png"])
    assert lines[0].startswith(f"{tmp_path / 'img.npy'}: predicted class ")
    for n in names:
        img = _png(out / n)
        assert img.shape[0] > 150 and img.shape[1] > 300 and img.std() > 10, n
    assert main(["visualize", str(model_file), str(tmp_path / "img.npy"), "--output", str(tmp_path / "d")]) == 0
    assert sorted(os.listdir(tmp_path / "d")) == ["activations-conv1.png", "filters-conv1.png", "grad-cam-conv3.png",
                                                  "graph.png"]
    capsys.readouterr()
    for argv, match in [(["--layer", "conv9"], "--layer 'conv9' is not in the model"),
                        (["--layer", "fc1", "--filters"], "--filters needs a Conv2d --layer"),
                        (["--target", "12"], "--target must be a class index in [0, 10)")]:
        assert main(["visualize", str(model_file), str(tmp_path / "img.npy"), "--output", str(tmp_path / "bad"),
                     *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert match in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()


def test_graph_of_the_zoo_resnet18():
    models = pytest.importorskip("pyengine.models")
    net = models.resnet18(num_classes=10)
    nodes = viz.trace_graph(net, (1, 3, 64, 64))
    adds = [n for n in nodes if n.kind == "op" and n.label == "add"]
    assert len(adds) == 8 and all(len(a.inputs) == 2 for a in adds)
    by = {n.id: n for n in nodes}
    shortcut = sorted({by[i].label for a in adds for i in a.inputs if "downsample" in by[i].label})
    assert shortcut == ["layer2.0.downsample.1", "layer3.0.downsample.1", "layer4.0.downsample.1"]
    assert sum(n.params for n in nodes if not n.shared) == sum(p.numel() for p in net.parameters())
    assert nodes[-1].shape == (1, 10)
    from pyengine.viz.graph import _layout
    _, col = _layout(nodes)
    assert {col[n.id] for n in nodes if "downsample" in n.label} == {1}
    assert max(col.values()) == 1
