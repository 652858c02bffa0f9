"""One module per op family, each defining ``OPS: list[OpInfo]`` (see ``registry``)."""
