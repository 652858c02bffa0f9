"""The digit CNN written out in full: layers, training options, fit, evaluate, save, reload.

    python examples/digit_cnn.py            (needs: pip install ".[digits,plot]")

The same network and options as `pyengine train`, spelled out with the Python API.
"""
import pyengine
import pyengine.io
from pyengine import nn, optim
from pyengine.data import DataLoader, DigitsDataset, TensorDataset, load_digits, split_each_label
from pyengine.train import evaluate, fit, predict

pyengine.manual_seed(0)

# Data: 5,000 real 28x28 MNIST digits shipped inside a package, 75% of each class for training.
images, labels, _ = load_digits()
digits = DigitsDataset(images, labels)
train_split, val_split = split_each_label(digits, 0.75, seed=0)
x, y = digits.arrays()                          # float32 (N, 1, 28, 28) in [0, 1], int64 (N,)
train = TensorDataset(x[train_split.indices], y[train_split.indices])
val = (x[val_split.indices], y[val_split.indices])



# Layers: conv → batch norm → ReLU → max pool, three times (no pool after the last), then FC.
def build():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, stride=2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, stride=2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


model = build()
print(model)

# Training options: sgdm, learning rate 0.01 (x0.1 after 4 epochs), mini-batches of 32, 6 epochs,
# validation every epoch.
optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.1)
history = fit(model, DataLoader(train, batch_size=32, shuffle=True, seed=0), nn.CrossEntropyLoss(), optimizer,
              epochs=6, validation_data=val, scheduler=scheduler, plot="digit-cnn-progress.png")

result = evaluate(model, val)
print(f"validation accuracy {100 * result.accuracy:.2f}%, loss {result.loss:.4f}")
print("confusion matrix (rows: true digit, columns: predicted):")
print(result.confusion)

# Save (safetensors, atomic) and reload into a fresh network of the same architecture.
pyengine.io.save(model, "digit-cnn.safetensors")
reloaded = pyengine.io.load("digit-cnn.safetensors", build())
# The split is ordered by class (all zeros first): show eight validation digits drawn at random.
import numpy as np  # noqa: E402

show = np.random.default_rng(1).choice(len(val[1]), 8, replace=False)
probs, predicted = predict(reloaded, val[0][show])
print("eight validation digits:", val[1][show].tolist(), "predicted:", predicted.tolist())
