"""weights=: safetensors files with their normalisation metadata, and downloads checked by SHA-256
against a local HTTP server on 127.0.0.1."""
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

import pyengine
from pyengine import models


def _file(tmp_path, model, name="w.safetensors", **meta):
    path = tmp_path / name
    models.save_weights(model, path, **meta)
    return path


def test_weights_file_loads_with_meta_and_infers_num_classes(tmp_path):
    pyengine.manual_seed(0)
    src = models.resnet18(num_classes=7)
    path = _file(tmp_path, src, mean=models.IMAGENET_MEAN, std=models.IMAGENET_STD, size=(224, 224), resize=256,
                 categories=[f"c{i}" for i in range(7)])
    m = models.resnet18(weights=str(path))
    assert m.fc.out_features == 7
    for (k, a), b in zip(src.state_dict().items(), m.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert m.weights_meta["categories"][3] == "c3" and m.weights_meta["size"] == [224, 224]
    img = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    x = m.preprocess(img)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    # the centre crop of the resized image, normalised with ImageNet's statistics
    assert abs(float(x[0].mean()) - ((img[..., 0].mean() / 255 - 0.485) / 0.229)) < 0.05


def test_weights_of_another_shape_are_refused_before_anything_changes(tmp_path):
    path = _file(tmp_path, models.resnet18(num_classes=7))
    with pytest.raises(ValueError, match="fc.weight has shape \\(7, 512\\) in the file, \\(3, 512\\)"):
        models.resnet18(num_classes=3, weights=path)
    with pytest.raises(ValueError, match="missing .*unexpected"):
        models.resnet34(weights=path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        models.resnet18(weights=tmp_path / "nope.safetensors")
    (tmp_path / "m.pth").write_bytes(b"PK")
    with pytest.raises(ValueError, match="pyengine convert"):
        models.resnet18(weights=tmp_path / "m.pth")
    with pytest.raises(TypeError, match="weights must be"):
        models.resnet18(weights=3)


class _Server:
    def __init__(self, folder):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.requests = 0
        orig = self.httpd.finish_request

        def count(*a, **k):
            self.requests += 1
            return orig(*a, **k)
        self.httpd.finish_request = count
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    s = _Server(folder)
    yield s, folder
    s.close()


def test_download_checks_the_sha256_and_caches(tmp_path, server, monkeypatch):
    srv, folder = server
    monkeypatch.setenv("PYENGINE_HOME", str(tmp_path / "home"))
    src = models.lenet5(num_classes=4)
    _file(folder, src, "lenet.safetensors", mean=(0.1307,), std=(0.3081,))
    digest = hashlib.sha256((folder / "lenet.safetensors").read_bytes()).hexdigest()
    w = models.Weights(srv.url + "lenet.safetensors", sha256=digest, meta={"note": "from the Weights"})
    m = models.lenet5(weights=w)
    cached = tmp_path / "home" / "models" / "lenet.safetensors"
    assert cached.exists() and m.weights_meta["note"] == "from the Weights" and m.weights_meta["mean"] == [0.1307]
    np.testing.assert_array_equal(m.classifier[4].weight.numpy(), src.classifier[4].weight.numpy())
    n = srv.requests
    models.lenet5(weights=w)                      # served from the cache
    assert srv.requests == n
    assert not [p for p in os.listdir(cached.parent) if p.endswith(".part")]


def test_download_with_a_wrong_digest_keeps_nothing(tmp_path, server):
    srv, folder = server
    _file(folder, models.lenet5(), "lenet-deadbeef.safetensors")
    dest = tmp_path / "cache"
    with pytest.raises(ValueError, match="does not match the expected deadbeef"):
        models.download(srv.url + "lenet-deadbeef.safetensors", folder=str(dest))    # digest prefix in the name
    assert os.listdir(dest) == []
    with pytest.raises(ValueError, match="does not match"):
        models.download(srv.url + "lenet-deadbeef.safetensors", folder=str(dest), sha256="0" * 64)
    assert os.listdir(dest) == []


def test_download_errors_are_clear(tmp_path, server):
    srv, _ = server
    import urllib.error
    with pytest.raises(urllib.error.HTTPError):
        models.download(srv.url + "missing.safetensors", folder=str(tmp_path))
    with pytest.raises(ValueError, match="http:// or https://"):
        models.download("ftp://127.0.0.1/x.safetensors", folder=str(tmp_path))
    with pytest.raises(ValueError, match="hex digest"):
        models.download(srv.url + "x.safetensors", folder=str(tmp_path), sha256="not-hex")
    assert os.listdir(tmp_path) == ["served"]
