"""Writes the seed inputs of every fuzz target into tests/fuzz/corpus/TARGET/seed-* from real files:
a saved digit CNN, a file of plain arrays, a training checkpoint (model, Adam, StepLR, history), the
architecture JSON of a few networks, IDX image and label files (plain and gzip), PNG/JPEG/BMP/GIF
images in class folders, and typical command lines. Run it again after a format change:

    PYTHONPATH=. python tests/fuzz/make_seeds.py
"""
import gzip
import io
import os
import struct
import sys
import tempfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def _put(target, name, data: bytes):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def _file_bytes(write) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f")
        write(path)
        with open(path, "rb") as f:
            return f.read()


def main():
    import pyengine
    from pyengine import nn, optim
    from pyengine.io import save, save_checkpoint, save_file
    from pyengine.optim import lr_scheduler
    from pyengine.train import DigitCNN, History

    pyengine.manual_seed(0)
    cnn = DigitCNN()
    _put("safetensors", "digit-cnn", _file_bytes(lambda p: save(cnn, p)))
    mlp = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    _put("safetensors", "mlp", _file_bytes(lambda p: save(mlp, p)))
    _put("safetensors", "arrays", _file_bytes(lambda p: save_file(
        {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array(3, np.int64)}, p, {"note": "x"})))

    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = lr_scheduler.StepLR(opt, 2)
    x = pyengine.randn(5, 4)
    loss = model(x).sum()
    loss.backward()
    opt.step()
    sched.step()
    hist = History(iteration=[1], epoch=[0], loss=[0.5], accuracy=[None], lr=[0.01], time=[0.1])
    _put("checkpoint", "adam-steplr", _file_bytes(lambda p: save_checkpoint(
        p, model, opt, sched, epoch=0, history=hist, extra={"best_loss": 0.4, "bad": 1})))
    _put("checkpoint", "model-only", _file_bytes(lambda p: save_checkpoint(p, model)))

    try:
        from pyengine.io.architecture import to_json
    except ImportError:
        to_json = None
    if to_json is not None:
        for name, m in (("digit-cnn", cnn), ("mlp", mlp), ("lstm", nn.LSTM(3, 4)), ("bn", model)):
            shapes = [tuple(v.shape) for v in m.state_dict().values()][:4]
            head = bytes([len(shapes)])
            for s in shapes:
                s = tuple(min(d, 65535) for d in s)[:3] or (1,)
                head += bytes([len(s) - 1]) + struct.pack(f"<{len(s)}H", *s)
            _put("architecture", name, head + to_json(m).encode())

    imgs = (np.arange(3 * 28 * 28) % 256).astype(np.uint8).reshape(3, 28, 28)
    idx3 = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", 3, 28, 28) + imgs.tobytes()
    idx1 = struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">I", 3) + bytes([1, 7, 3])
    f32 = struct.pack(">BBBB", 0, 0, 0x0D, 2) + struct.pack(">II", 2, 2) + np.arange(4, dtype=">f4").tobytes()
    _put("idx", "images", b"\0" + idx3)
    _put("idx", "labels-gz", b"\1" + idx1)
    _put("idx", "float32", b"\0" + f32)

    from PIL import Image
    def enc(img, fmt):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        return buf.getvalue()
    grey = Image.fromarray(imgs[0])
    rgb = Image.fromarray(np.stack([imgs[0], imgs[1], imgs[2]], axis=-1)[:12, :10])
    files = [(0, 0, enc(grey, "PNG")), (1, 1, enc(rgb, "JPEG")), (0, 2, enc(grey.resize((8, 8)), "BMP"))]
    blob = b"\x00"
    for cls, ext, body in files:
        blob += bytes([cls | (ext << 1)]) + struct.pack("<H", len(body)) + body
    _put("image_folder", "png-jpeg-bmp", blob)
    gif = enc(grey.resize((5, 7)), "GIF")
    _put("image_folder", "gif-resize", bytes([0x80 | 0x12]) + bytes([1 | (3 << 1)]) + struct.pack("<H", len(gif)) + gif)

    for i, argv in enumerate([["train"], ["train", "--epochs", "2", "--lr", "0.1", "--solver", "adam"],
                              ["train", "--data", "folder", "--root", "x", "--image-size", "8", "8"],
                              ["evaluate", "model.safetensors", "--data", "digits"], ["predict", "m", "a.png"],
                              ["info"], ["--help"], ["train", "--lr", "nan"], ["train", "--val-fraction", "1"]]):
        _put("cli", f"argv{i}", b"\0".join(a.encode() for a in argv))
    onnx_seeds()
    print(f"seeds written under {ROOT}")


def onnx_seeds():
    """Small ONNX models from pyengine's exporter: a conv net with batch norm and pooling, an LSTM,
    and a graph of tensor ops (when pyengine.onnx and onnx are there)."""
    try:
        import onnx  # noqa: F401

        from pyengine import onnx as pe_onnx
    except ImportError:
        return
    import pyengine
    from pyengine import nn
    pyengine.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2 * 2 * 2, 3), nn.LogSoftmax(dim=1))
    _put("onnx", "conv-bn-pool", pe_onnx.export(conv, pyengine.randn(1, 1, 4, 4),
                                                dynamic_axes={"input": [0]}).SerializeToString())
    _put("onnx", "lstm", pe_onnx.export(nn.LSTM(2, 3), pyengine.randn(2, 1, 2)).SerializeToString())

    class Ops(nn.Module):
        def forward(self, x):
            return pyengine.cat([x[:, :1] * 2 + 1, x.mean(1, keepdim=True)], 1).reshape(-1).clamp(0, 1)
    _put("onnx", "tensor-ops", pe_onnx.export(Ops(), pyengine.randn(2, 3), opset_version=13).SerializeToString())


if __name__ == "__main__":
    sys.exit(main())
