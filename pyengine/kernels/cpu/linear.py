"""CPU linear kernels (not written yet)."""
__all__: list[str] = []
