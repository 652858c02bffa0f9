"""A digit CNN trained briefly on the shipped digits, shared by the quantization tests."""
import numpy as np
import pytest

import pyengine as pe
from pyengine import nn, optim
from pyengine.data import DataLoader, DigitsDataset, TensorDataset, load_digits, split_each_label
from pyengine.models import digit_cnn
from pyengine.train import fit


@pytest.fixture(scope="session")
def digits_split():
    images, labels, _ = load_digits()
    digits = DigitsDataset(images, labels)
    tr, va = split_each_label(digits, 0.75, seed=0)
    x, y = digits.arrays()
    return (x[tr.indices], y[tr.indices]), (x[va.indices], y[va.indices])


@pytest.fixture(scope="session")
def trained_digit_cnn(digits_split):
    (xt, yt), val = digits_split
    pe.manual_seed(0)
    model = digit_cnn()
    opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    fit(model, DataLoader(TensorDataset(xt, yt), batch_size=32, shuffle=True, seed=0), nn.CrossEntropyLoss(), opt,
        epochs=2, verbose=False)
    return model.eval()


def accuracy(model, x, y):
    with pe.no_grad():
        return float((model(pe.tensor(x)).numpy().argmax(1) == y).mean())
