"""Transfer learning with a zoo model: train the digit CNN on digits 0-4, save it, reload it without
its code, and fine-tune it for digits 5-9 — the new head alone on the frozen body, then the whole
network at a low learning rate for the body.

    python examples/transfer_learning.py    (needs: pip install ".[digits]")

1. ``pyengine.models.digit_cnn(num_classes=5)`` trained on the images of 0-4, saved with
   ``pyengine.save`` (weights and architecture in one safetensors file).
2. ``pyengine.load`` rebuilds it; ``replace_head`` puts a new 5-way classifier in; ``freeze`` stops
   the body (no gradients, batch norm in eval mode, which ``fit`` keeps), and only the head trains.
3. The same start, but every layer trains, the body at a tenth of the head's rate
   (``param_groups``, MATLAB's WeightLearnRateFactor).
4. For comparison, the head trained on a random frozen body. Frozen weights and batch-norm
   statistics are checked to be bit-identical after training.
"""
import os
import tempfile

import numpy as np

import pyengine
from pyengine import models, nn, optim
from pyengine.data import DigitsDataset, load_digits, split_each_label
from pyengine.train import evaluate, fit

pyengine.manual_seed(0)
images, labels, _ = load_digits()
digits = DigitsDataset(images, labels)
x, y = digits.arrays()
train_split, val_split = split_each_label(digits, 0.75, seed=0)


def subset(split, classes):
    idx = split.indices[np.isin(y[split.indices], classes)]
    return x[idx], y[idx] - classes[0]            # labels 0..4 within each half


low_train, low_val = subset(train_split, [0, 1, 2, 3, 4]), subset(val_split, [0, 1, 2, 3, 4])
high_train, high_val = subset(train_split, [5, 6, 7, 8, 9]), subset(val_split, [5, 6, 7, 8, 9])
loss = nn.CrossEntropyLoss()
folder = tempfile.mkdtemp(prefix="pyengine-transfer-")
path = os.path.join(folder, "digits-0-4.safetensors")

# 1. Train on 0-4 and save.
base = models.digit_cnn(num_classes=5)
fit(base, low_train, loss, optim.SGD(base.parameters(), lr=0.01, momentum=0.9), epochs=4, batch_size=64,
    validation_data=low_val, seed=0, progress=False)
base_acc = evaluate(base, low_val).accuracy
pyengine.save(base, path)


def snapshot(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def largest_change(module, before):
    return max(float(np.abs(v.numpy() - before[k]).max()) for k, v in module.state_dict().items())


# 2. The new head alone, on the frozen body.
model = pyengine.load(path)                       # no code needed: rebuilt from the file
models.replace_head(model, 5)
models.freeze(model.features)
frozen = snapshot(model.features)
fit(model, high_train, loss, optim.SGD(models.param_groups(model, lr=0.01), momentum=0.9), epochs=3,
    batch_size=64, validation_data=high_val, seed=0, progress=False)
head_acc = evaluate(model, high_val).accuracy
moved = largest_change(model.features, frozen)

# 3. The whole network, the body at 0.1x the head's learning rate.
model = pyengine.load(path)
models.replace_head(model, 5)
groups = models.param_groups(model, lr=0.01, factors={"fc": 1.0}, default=0.1)
fit(model, high_train, loss, optim.SGD(groups, momentum=0.9), epochs=3, batch_size=64, validation_data=high_val,
    seed=0, progress=False)
whole_acc = evaluate(model, high_val).accuracy

# 4. The same head on a random frozen body.
scratch = models.digit_cnn(num_classes=5)
models.freeze(scratch.features)
fit(scratch, high_train, loss, optim.SGD(models.param_groups(scratch, lr=0.01), momentum=0.9), epochs=3,
    batch_size=64, validation_data=high_val, seed=0, progress=False)
random_acc = evaluate(scratch, high_val).accuracy

print(f"digits 0-4, the trained zoo model:                  {100 * base_acc:.2f}%")
print(f"digits 5-9, new head on the frozen pretrained body:  {100 * head_acc:.2f}% "
      f"(largest change of a frozen weight or statistic: {moved:.1e})")
print(f"digits 5-9, whole network, body at 0.1x the rate:    {100 * whole_acc:.2f}%")
print(f"digits 5-9, new head on a random frozen body:        {100 * random_acc:.2f}%")
assert moved == 0.0, "frozen layers must not move"
