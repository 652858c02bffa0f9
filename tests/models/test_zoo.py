"""The zoo against torchvision's architectures (re-written in plain torch in torch_zoo.py): the same
state-dict names and shapes, strict loading, and the same outputs on the same weights and input."""
import numpy as np
import pytest

import pyengine
from pyengine import models, nn

torch = pytest.importorskip("torch")
from torch_zoo import BUILDERS, randomize_batch_norm  # noqa: E402

# input sides small enough to keep the suite fast, yet each exercises the model's odd corners:
# alexnet at 64 and vgg at 32 reach their adaptive pools with 1x1 maps (replicated to 6x6 / 7x7),
# squeezenet's ceil-mode pools see odd sizes (31, 15, 7).
SIDES = {"alexnet": 64, "vgg11": 32, "vgg16": 32, "vgg16_bn": 32, "resnet18": 64, "resnet34": 48,
         "resnet50": 64, "mobilenet_v2": 64, "squeezenet1_1": 64}


@pytest.fixture(scope="module")
def pairs():
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            ref = randomize_batch_norm(BUILDERS[name](num_classes=10)).eval()
            cache.clear()            # keep one VGG-sized pair in memory at a time
            cache[name] = ref
        return cache[name]
    return get


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_state_dict_names_shapes_and_outputs_match_torchvision(name, pairs):
    ref = pairs(name)
    sd = {k: v.numpy() for k, v in ref.state_dict().items()}
    ours = models.get_model(name, num_classes=10)
    own = ours.state_dict()
    assert list(own) == list(sd), "same names in the same order"
    for k in sd:
        assert tuple(own[k].shape) == sd[k].shape, k
    ours.load_state_dict(sd, strict=True)
    ours.eval()
    side = SIDES[name]
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, side, side + 3)).astype(np.float32)
        with torch.no_grad():
            want = ref(torch.from_numpy(x)).numpy()
        with pyengine.no_grad():
            got = ours(pyengine.from_numpy(x)).numpy()
        assert got.shape == want.shape == (batch, 10)
        err = np.abs(got - want).max()
        assert err <= 1e-4 * np.abs(want).max(), f"{name}: max |ours - torch| = {err:.2e}"
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_default_heads_have_torchvision_sizes():
    assert models.resnet18().fc.weight.shape == (1000, 512)
    assert models.resnet50().fc.weight.shape == (1000, 2048)
    assert models.mobilenet_v2().classifier[1].weight.shape == (1000, 1280)
    assert models.squeezenet1_1(num_classes=7).classifier[1].weight.shape == (7, 512, 1, 1)
    names = {k for k, _ in models.resnet34().named_parameters()}
    assert "layer3.5.conv2.weight" in names and "layer2.0.downsample.0.weight" in names
    mb = dict(models.mobilenet_v2().named_parameters())
    assert mb["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)       # depthwise, no expansion in block 1
    assert mb["features.2.conv.0.0.weight"].shape == (96, 16, 1, 1)      # expansion ×6


def test_list_and_get_model():
    names = models.list_models()
    for n in ("lenet5", "digit_cnn", "alexnet", "vgg11", "vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet50",
              "mobilenet_v2", "squeezenet1_1"):
        assert n in names
    m = models.get_model("ResNet-18", num_classes=3)
    assert isinstance(m, models.ResNet) and m.fc.out_features == 3
    with pytest.raises(ValueError, match="unknown model 'resnet19'.*resnet18"):
        models.get_model("resnet19")
    with pytest.raises(TypeError, match="keyword arguments only"):
        models.resnet18(10)


@pytest.mark.parametrize("name, shape", [("lenet5", (2, 1, 28, 28)), ("digit_cnn", (2, 1, 28, 28))])
def test_digit_models_train_a_step(name, shape):
    pyengine.manual_seed(0)
    m = models.get_model(name, num_classes=10)
    x = pyengine.randn(*shape)
    y = pyengine.tensor([3, 7])
    opt = pyengine.optim.SGD(m.parameters(), lr=0.1)
    before = [p.numpy().copy() for p in m.parameters()]
    loss = nn.CrossEntropyLoss()(m(x), y)
    loss.backward()
    opt.step()
    assert m(x).shape == (2, 10)
    assert all(p.grad is not None for p in m.parameters())
    assert any(not np.array_equal(b, p.numpy()) for b, p in zip(before, m.parameters()))


def test_digit_cnn_is_the_cli_network():
    from pyengine.train import DigitCNN
    assert DigitCNN is models.DigitCNN
    assert list(models.digit_cnn().state_dict()) == list(DigitCNN().state_dict())


def test_summary_lists_every_layer_with_output_shapes():
    text = models.resnet18(num_classes=5).summary((1, 3, 64, 64))
    assert "layer4.1.conv2 (Conv2d)" in text and "(1, 512, 2, 2)" in text
    assert "Total params: 11,179,077" in text       # torchvision's resnet18 with a 5-way head
    assert "fc (Linear)" in text and "(1, 5)" in text
