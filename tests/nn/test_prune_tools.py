"""prune_and_retrain's schedule, prune_channels + shrink (smaller, same function) and the sparse file."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn
from pyengine.io.safetensors_io import CorruptFileError
from pyengine.models import digit_cnn
from pyengine.nn.utils import prune


def _bn_stats(model, rng):
    model.train()
    with pe.no_grad():
        model(pe.tensor(rng.standard_normal((16, 1, 28, 28)).astype(np.float32)))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight._data[...] = rng.uniform(0.5, 2, m.num_features)
            m.bias._data[...] = rng.standard_normal(m.num_features)
    return model.eval()


def test_prune_and_retrain_follows_the_schedule(rng):
    model = _bn_stats(digit_cnn(), rng)
    seen = []
    records = prune.prune_and_retrain(model, retrain=lambda m: seen.append(prune.count_nonzero(m)[0]),
                                      evaluate=lambda m: 0.5, schedule=[0.5, 0.2, 0.1])
    nz, total = prune.count_nonzero(model)
    assert [round(r["kept"], 3) for r in records] == [0.5, 0.2, 0.1]
    assert nz == round(0.1 * total) and seen[-1] == nz
    assert prune.is_pruned(model)
    geo = prune.prune_and_retrain(digit_cnn(), lambda m: None, lambda m: 1.0, target=0.9, steps=2)
    assert abs(geo[0]["kept"] - 0.1 ** 0.5) < 1e-3 and abs(geo[1]["kept"] - 0.1) < 1e-3
    with pytest.raises(ValueError, match="schedule must be decreasing"):
        prune.prune_and_retrain(digit_cnn(), lambda m: None, lambda m: 1.0, schedule=[0.2, 0.5])


def test_shrink_removes_pruned_channels_and_keeps_the_function(rng):
    model = _bn_stats(digit_cnn(), rng)
    f = model.features
    for conv, bn, amount in ((f[0], f[1], 3), (f[4], f[5], 0.5), (f[8], f[9], 0.25)):
        prune.prune_channels(conv, amount, n=1, bn=bn)
    x = pe.tensor(rng.standard_normal((5, 1, 28, 28)).astype(np.float32))
    with pe.no_grad():
        want = model(x).numpy()
    before = sum(p.numel() for p in model.parameters())
    small, report = prune.shrink(model, x[:1])
    assert report == {"features.0": (8, 5), "features.4": (16, 8), "features.8": (32, 24)}
    assert tuple(f[0].weight.shape) == (5, 1, 3, 3) and tuple(f[4].weight.shape) == (8, 5, 3, 3)
    assert f[5].num_features == 8 and tuple(f[9].running_mean.shape) == (24,)
    assert tuple(small.fc.weight.shape) == (10, 24 * 49) and small.fc.in_features == 24 * 49
    assert sum(p.numel() for p in small.parameters()) < before * 0.7
    with pe.no_grad():
        got = small(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not prune.is_pruned(small)


def test_shrink_keeps_channels_that_do_not_output_zero(rng):
    """Filters zeroed but bias and batch norm left: a channel outputs the constant relu(bn(bias)),
    so only the channels where that is 0 may go."""
    model = _bn_stats(digit_cnn(), rng)
    conv, bn = model.features[0], model.features[1]
    prune.ln_structured(conv, "weight", 4, n=2, dim=0)
    zero = conv.weight.numpy().reshape(8, -1).max(axis=1) == 0
    const = (bn.weight.numpy() * (conv.bias.numpy() - bn.running_mean.numpy()) /
             np.sqrt(bn.running_var.numpy() + bn.eps) + bn.bias.numpy())
    removable = int((zero & (np.maximum(const, 0) == 0)).sum())
    assert 0 < removable < 4, "the seed must give both kinds of channel"
    x = pe.tensor(rng.standard_normal((3, 1, 28, 28)).astype(np.float32))
    with pe.no_grad():
        want = model(x).numpy()
    _, report = prune.shrink(model, x[:1])
    assert report == {"features.0": (8, 8 - removable)}
    with pe.no_grad():
        np.testing.assert_allclose(model(x).numpy(), want, rtol=1e-5, atol=1e-5)


def test_sparse_file_round_trip_is_exact_and_smaller(rng, tmp_path):
    model = _bn_stats(digit_cnn(), rng)
    prune.global_unstructured(prune.prunable_parameters(model), prune.L1Unstructured, amount=0.9)
    for m, n in prune.prunable_parameters(model):
        prune.remove(m, n)
    path = tmp_path / "sparse.safetensors"
    sizes = prune.save_sparse(model, str(path))
    back = prune.load_sparse(str(path))
    state = model.state_dict()
    assert set(back) == set(state)
    for k, v in state.items():
        assert back[k].numpy().dtype == v.numpy().dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    dense = tmp_path / "dense.safetensors"
    pe.io.save_file({k: v.numpy() for k, v in state.items()}, str(dense))
    assert path.stat().st_size < dense.stat().st_size / 5
    assert sizes["bytes_tensors"] < sizes["dense_bytes"] / 5
    fresh = digit_cnn()
    fresh.load_state_dict(back)
    x = pe.randn(2, 1, 28, 28)
    with pe.no_grad():
        np.testing.assert_array_equal(fresh.eval()(x).numpy(), model(x).numpy())
    # a damaged layout is refused with a clear error
    arrays = pe.io.load_file(str(path))
    arrays.pop("fc.weight.values")
    pe.io.save_file(arrays, str(tmp_path / "bad.safetensors"),
                    metadata={"pyengine.sparse": pe.io.read_metadata(str(path))["pyengine.sparse"]})
    with pytest.raises(CorruptFileError, match="tensor 'fc.weight' has an incomplete sparse entry"):
        prune.load_sparse(str(tmp_path / "bad.safetensors"))
