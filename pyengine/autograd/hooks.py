"""RemovableHandle: what every ``register_*hook`` returns (PyTorch's torch.utils.hooks.RemovableHandle).

Hooks live in plain dicts keyed by a process-wide increasing id, so they run in registration order
and removing one never disturbs the others. The handle holds the dicts weakly: a handle kept after
its module or tensor is gone neither keeps it alive nor fails on ``remove()``.
"""
from __future__ import annotations

import itertools
import weakref

__all__ = ["RemovableHandle"]

_ids = itertools.count()


class _HookDict(dict):
    """A dict that a weak reference can point at (plain dicts cannot be weakly referenced)."""
    __slots__ = ("__weakref__",)


class RemovableHandle:
    """``handle.remove()`` unregisters the hook; ``with handle:`` removes it on exit.
    ``extra_dict``: further dicts the same id is removed from (e.g. the with_kwargs flags)."""

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.id = next(_ids)
        self._refs = [weakref.ref(hooks_dict)]
        extras = extra_dict if isinstance(extra_dict, (list, tuple)) else [extra_dict] if extra_dict is not None else []
        self._refs += [weakref.ref(d) for d in extras]

    def remove(self):
        for r in self._refs:
            d = r()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"<RemovableHandle id={self.id}>"


def hook_dict():
    """A new, empty hooks dict a RemovableHandle can refer to weakly."""
    return _HookDict()
