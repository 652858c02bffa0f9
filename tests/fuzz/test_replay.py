"""Replays the committed fuzz corpus (seeds from real files and the regression input of every
finding) through the fuzz targets: each input must end in the reader's documented error or in
success — deterministic, a few seconds, no atheris needed."""
import os

import pytest

from . import targets

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def _inputs():
    avail = targets.available()
    for target in sorted(os.listdir(CORPUS)):
        folder = os.path.join(CORPUS, target)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            yield pytest.param(target, os.path.join(folder, name), id=f"{target}/{name}",
                               marks=[] if target in avail else
                               [pytest.mark.skip(reason=f"this tree has no {target} reader")])


@pytest.mark.parametrize("target,path", list(_inputs()))
def test_corpus_input(target, path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        targets.available()[target](data)
    finally:
        targets.cleanup()


def test_every_target_has_a_corpus():
    for target in targets.available():
        folder = os.path.join(CORPUS, target)
        assert os.path.isdir(folder) and os.listdir(folder), f"no corpus for the {target} fuzz target"
