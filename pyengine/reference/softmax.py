"""Reference softmax kernels (not written yet)."""
__all__: list[str] = []
