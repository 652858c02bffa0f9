"""fit's training options on a small separable problem: Keras-style callbacks and MATLAB-style
output functions (both able to stop training), the verbose table, shuffle 'once'/'every-epoch'/
'never', execution_environment, and the CSV / TensorBoard scalar loggers."""
import csv
import io

import numpy as np
import pytest

import pyengine
from pyengine import nn, optim
from pyengine.data import DataLoader, TensorDataset
from pyengine.train import fit
from pyengine.train.callbacks import Callback, CSVLogger, TensorBoardLogger, TrainingInfo, tensorboard_writer_class


def _problem(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _model():
    pyengine.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _fit(model=None, **kw):
    x, y = _problem()
    model = model or _model()
    kw.setdefault("epochs", 3)
    kw.setdefault("batch_size", 20)
    kw.setdefault("progress", False)
    kw.setdefault("seed", 0)
    return model, fit(model, (x, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), **kw)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", self.model is not None, self.history is not None))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, logs["iteration"], logs["epoch"], round(logs["loss"], 6),
                            "val_loss" in logs))

    def on_validation_end(self, iteration, logs=None):
        self.events.append(("validation_end", iteration))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, round(logs["loss"], 6), "val_accuracy" in logs))

    def on_train_end(self, logs=None):
        self.events.append(("train_end", logs["iteration"]))


def test_keras_callbacks_order_and_logs():
    rec = Recorder()
    x, y = _problem()
    _, hist = _fit(callbacks=[rec], validation_data=(x[:40], y[:40]))
    ev = rec.events
    assert ev[0] == ("train_begin", True, True)
    assert ev[-1] == ("train_end", 18)
    batches = [e for e in ev if e[0] == "batch_end"]
    assert [b[2] for b in batches] == list(range(1, 19))            # iterations 1..18 (6 batches x 3 epochs)
    assert [b[1] for b in batches] == list(range(6)) * 3               # batch index within the epoch
    assert [b[4] for b in batches] == [round(v, 6) for v in hist.loss]
    # the epoch's logs hold the mean loss of its iterations, and the latest validation
    ends = [e for e in ev if e[0] == "epoch_end"]
    assert [e[1] for e in ends] == [0, 1, 2]
    for e, epoch in zip(ends, range(3)):
        assert e[2] == round(float(np.mean(hist.loss[6 * epoch:6 * epoch + 6])), 6) and e[3]
    # validation runs at each epoch's last batch, before that batch's batch_end, whose logs carry it
    for it in (6, 12, 18):
        i = ev.index(("validation_end", it))
        assert ev[i + 1][:3] == ("batch_end", 5, it) and ev[i + 1][5] is True and ev[i + 2][0] == "epoch_end"
    assert sum(1 for b in batches if b[5]) == 3


def test_keras_callback_stops_training_by_return_or_model_flag():
    class StopAt(Callback):
        def on_batch_end(self, batch, logs=None):
            return logs["iteration"] == 4 or None

    _, hist = _fit(callbacks=[StopAt()], epochs=5)
    assert hist.iteration[-1] == 4 and hist.stop_reason == "callback" and hist.stopped_early

    class FlagAfterEpoch(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    model, hist = _fit(callbacks=[FlagAfterEpoch()], epochs=5)
    assert hist.iteration[-1] == 12 and set(hist.epoch) == {0, 1} and hist.stop_reason == "callback"


def test_output_function_sees_states_and_can_stop():
    seen = []
    x, y = _problem()

    def output_fn(info: TrainingInfo):
        seen.append(info)
        return info.state == "iteration" and info.training_loss is not None and info.iteration >= 8

    _, hist = _fit(callbacks=[output_fn], epochs=4, validation_data=(x[:40], y[:40]), validation_frequency=5)
    states = [i.state for i in seen]
    assert states[0] == "start" and states[-1] == "done" and set(states[1:-1]) == {"iteration"}
    assert hist.iteration[-1] == 8 and hist.stop_reason == "callback"
    # a final validation at the stop iteration (MATLAB validates when an output function stops)
    assert hist.val_iteration[-1] == 8
    its = [i for i in seen if i.state == "iteration"]
    assert [i.iteration for i in its] == list(range(1, 9))
    assert [i.epoch for i in its] == [0] * 6 + [1] * 2
    assert its[4].validation_accuracy is not None and its[3].validation_accuracy is None
    assert its[4].validation_accuracy == hist.val_accuracy[0]
    assert all(i.base_learn_rate == pytest.approx(0.1) for i in its)


def test_bad_callback_is_a_type_error():
    with pytest.raises(TypeError, match="callback"):
        _fit(callbacks=[42])


def test_verbose_table_rows(capsys):
    x, y = _problem()
    _fit(verbose=True, verbose_frequency=4, validation_data=(x[:40], y[:40]))
    out = capsys.readouterr().out.splitlines()
    assert "Iteration" in out[1] and "Base LR" in out[1] and "Val acc" in out[1]
    rows = [ln for ln in out if ln.startswith("|") and ln.split("|")[2].strip().isdigit()]
    iters = [int(r.split("|")[2]) for r in rows]
    # iteration 1, every 4th, every validation (6, 12, 18) and the last
    assert iters == [1, 4, 6, 8, 12, 16, 18]
    val_cells = [r.split("|")[5].strip() for r in rows]
    assert val_cells[2] and not val_cells[1]           # validation accuracy only where it validated
    with pytest.raises(ValueError, match="verbose_frequency"):
        _fit(verbose=True, verbose_frequency=0)


def _orders(shuffle, epochs=3):
    """The sample order of every epoch, read back through a dataset that records its indices."""
    x, y = _problem(30)

    class Recording(TensorDataset):
        seen = []

        def __getitems__(self, idx):
            Recording.seen.append(np.asarray(idx).copy())
            return super().__getitems__(idx)

    Recording.seen = []
    model = _model()
    fit(model, Recording(x, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=epochs,
        batch_size=10, shuffle=shuffle, progress=False, seed=3)
    return [np.concatenate(Recording.seen[3 * e:3 * e + 3]) for e in range(epochs)]


def test_shuffle_modes():
    every = _orders("every-epoch")
    assert not np.array_equal(every[0], every[1]) and not np.array_equal(every[1], every[2])
    assert not np.array_equal(every[0], np.arange(30))
    once = _orders("once")
    assert np.array_equal(once[0], once[1]) and np.array_equal(once[1], once[2])
    assert not np.array_equal(once[0], np.arange(30))
    assert np.array_equal(once[0], every[0])                    # the same seed gives the same first order
    never = _orders("never")
    assert all(np.array_equal(o, np.arange(30)) for o in never)
    assert all(np.array_equal(a, b) for a, b in zip(_orders(True), every))
    assert all(np.array_equal(a, b) for a, b in zip(_orders(False), never))
    with pytest.raises(ValueError, match="shuffle must be one of"):
        _fit(shuffle="sometimes")
    x, y = _problem()
    with pytest.raises(ValueError, match="contradicts the DataLoader"):
        model = _model()
        fit(model, DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True), nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1), epochs=1, shuffle="never", progress=False)


def test_execution_environment():
    _, hist = _fit(execution_environment="cpu", epochs=1)
    assert len(hist.iteration) == 6
    if not pyengine.cuda.is_available():
        _, hist = _fit(execution_environment="auto", epochs=1)          # falls back to the CPU
        assert len(hist.iteration) == 6
        with pytest.raises(ValueError, match="needs a usable CUDA GPU"):
            _fit(execution_environment="gpu")
        with pytest.raises(ValueError, match="needs a usable CUDA GPU"):
            _fit(execution_environment="multi-gpu")
    with pytest.raises(ValueError, match="execution_environment must be one of"):
        _fit(execution_environment="tpu")
    with pytest.raises(ValueError, match="contradicts"):
        _fit(execution_environment="cpu", device="cuda")


def test_csv_logger(tmp_path):
    x, y = _problem()
    path = tmp_path / "logs" / "scalars.csv"
    _, hist = _fit(callbacks=[CSVLogger(path)], validation_data=(x[:40], y[:40]))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == 18
    assert [int(r["iteration"]) for r in rows] == hist.iteration
    np.testing.assert_allclose([float(r["loss"]) for r in rows], hist.loss, rtol=1e-6)
    np.testing.assert_allclose([float(r["lr"]) for r in rows], hist.lr)
    validated = [int(r["iteration"]) for r in rows if r["val_accuracy"]]
    assert validated == hist.val_iteration == [6, 12, 18]
    np.testing.assert_allclose([float(r["val_accuracy"]) for r in rows if r["val_accuracy"]], hist.val_accuracy)
    # append continues the same file without a second header
    _fit(callbacks=[CSVLogger(path, append=True)], epochs=1)
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 18 + 6 and lines.count(lines[0]) == 1


def test_tensorboard_logger(tmp_path):
    if tensorboard_writer_class() is None:
        with pytest.raises(ImportError, match="tensorboardX"):
            TensorBoardLogger(tmp_path)
        pytest.skip("tensorboardX is not installed (the error above is what a user sees)")
    x, y = _problem()
    _, hist = _fit(callbacks=[TensorBoardLogger(tmp_path)], validation_data=(x[:40], y[:40]))
    files = [p for p in tmp_path.iterdir() if p.name.startswith("events.out.tfevents")]
    assert len(files) == 1
    scalars = _read_tensorboard_scalars(files[0])
    steps, loss = zip(*scalars["train/loss"])
    assert list(steps) == hist.iteration
    np.testing.assert_allclose(loss, hist.loss, rtol=1e-6)   # event files store float32
    np.testing.assert_allclose([v for _, v in scalars["train/lr"]], hist.lr, rtol=1e-6)
    assert [s for s, _ in scalars["val/accuracy"]] == hist.val_iteration == [6, 12, 18]
    np.testing.assert_allclose([v for _, v in scalars["val/accuracy"]], hist.val_accuracy, rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars["val/loss"]], hist.val_loss, rtol=1e-6)


def _read_tensorboard_scalars(path):
    """{tag: [(step, value), ...]} from a TensorBoard event file, read back independently of the
    writer: TFRecord framing (u64 length, u32 masked CRC-32C of it, the bytes, u32 masked CRC-32C
    of them; both CRCs checked) around serialized Event protos."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    def masked(data):   # CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), then TFRecord's mask
        c = 0xFFFFFFFF
        for byte in data:
            c ^= byte
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
        c ^= 0xFFFFFFFF
        return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF

    raw, pos, out = path.read_bytes(), 0, {}
    while pos < len(raw):
        header = raw[pos:pos + 8]
        (n,), (hcrc,) = struct.unpack("<Q", header), struct.unpack("<I", raw[pos + 8:pos + 12])
        data = raw[pos + 12:pos + 12 + n]
        (dcrc,) = struct.unpack("<I", raw[pos + 12 + n:pos + 16 + n])
        assert hcrc == masked(header) and dcrc == masked(data), "corrupt record"
        pos += 16 + n
        event = Event.FromString(data)
        for v in event.summary.value:
            out.setdefault(v.tag, []).append((event.step, v.simple_value))
    assert pos == len(raw)
    return out
