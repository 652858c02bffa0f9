"""Transfer learning: train the digit CNN on digits 0-4, then reuse its body for digits 5-9.

    python examples/transfer_learning.py    (needs: pip install ".[digits]")

1. Train the digit CNN on the images of 0-4 and save it.
2. Load that model, replace the final FC by a new 5-way layer, freeze every other layer
   (requires_grad False; batch norm kept in eval mode so its running statistics stay too), and
   fine-tune only the new layer on 5-9.
3. Check that the frozen weights did not move, and compare with the same head trained on top of a
   randomly initialised (frozen) body: the pretrained features win clearly.
"""
import numpy as np

import pyengine
import pyengine.io
from pyengine import nn, optim
from pyengine.data import DigitsDataset, load_digits, split_each_label
from pyengine.train import DigitCNN, evaluate, fit

pyengine.manual_seed(0)
images, labels, _ = load_digits()
x, y = DigitsDataset(images, labels).arrays()
train_split, val_split = split_each_label(DigitsDataset(images, labels), 0.75, seed=0)


def subset(split, digits):
    idx = split.indices[np.isin(y[split.indices], digits)]
    return x[idx], y[idx] - digits[0]            # labels 0..4 within each half


low_train, low_val = subset(train_split, [0, 1, 2, 3, 4]), subset(val_split, [0, 1, 2, 3, 4])
high_train, high_val = subset(train_split, [5, 6, 7, 8, 9]), subset(val_split, [5, 6, 7, 8, 9])
loss = nn.CrossEntropyLoss()

# 1. Train on 0-4 and save.
base = DigitCNN(num_classes=5)
fit(base, low_train, loss, optim.SGD(base.parameters(), lr=0.01, momentum=0.9), epochs=4, batch_size=64,
    validation_data=low_val, seed=0)
print(f"digits 0-4: validation accuracy {100 * evaluate(base, low_val).accuracy:.2f}%")
pyengine.io.save(base, "digits-0-4.safetensors")


class FineTuneCNN(DigitCNN):
    """The digit CNN with a frozen body: train() leaves the body (and its batch norm statistics) in
    eval mode, so fit's model.train() only affects the new head."""

    def train(self, mode=True):
        super().train(mode)
        self.features.eval()
        return self


def with_new_head(body_weights=None):
    """A network whose body is loaded (or left random) and frozen, with a fresh trainable FC."""
    model = FineTuneCNN(num_classes=5)
    if body_weights is not None:
        pyengine.io.load(body_weights, model)
    model.fc = nn.Linear(32 * 7 * 7, 5)           # the new final layer
    model.features.requires_grad_(False)
    return model


def fine_tune(model):
    frozen_before = {k: v.numpy().copy() for k, v in model.features.state_dict().items()}
    opt = optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
    fit(model, high_train, loss, opt, epochs=3, batch_size=64, validation_data=high_val, seed=0)
    moved = max(float(np.abs(v.numpy() - frozen_before[k]).max()) for k, v in model.features.state_dict().items())
    return evaluate(model, high_val).accuracy, moved


pretrained_acc, moved = fine_tune(with_new_head("digits-0-4.safetensors"))
random_acc, _ = fine_tune(with_new_head(None))
print(f"digits 5-9, head only on the pretrained body: {100 * pretrained_acc:.2f}% "
      f"(largest change of a frozen weight or statistic: {moved:.1e})")
print(f"digits 5-9, head only on a random body:       {100 * random_acc:.2f}%")
assert moved == 0.0, "frozen layers must not move"
