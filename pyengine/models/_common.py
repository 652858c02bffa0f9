"""What every zoo builder shares: reading ``weights=`` before the model is built (so num_classes can
follow the file's head), then loading them into the built model."""
from __future__ import annotations

from .weights import head_classes, load_weights, read_weights


def build_with_weights(ctor, head_key: str, weights, progress: bool, kwargs: dict):
    """ctor(**kwargs) with ``weights`` (path, URL or Weights; None for a random initialisation) loaded.
    Without an explicit num_classes, the head tensor ``head_key`` of the weights decides it."""
    read = None
    if weights is not None:
        read = read_weights(weights, progress)
        if "num_classes" not in kwargs:
            n = head_classes(read[0], head_key)
            if n is not None:
                kwargs["num_classes"] = n
    model = ctor(**kwargs)
    if read is not None:
        load_weights(model, weights, _read=read)
    return model
