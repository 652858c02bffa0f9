"""pyengine.reference — pure-NumPy kernels, the oracle every other implementation is tested against.

Readable over fast; the maths is done in float64 and the result returned in the input's dtype.
Same function names, signatures and error messages as ``pyengine.kernels.cpu`` and
``pyengine.kernels.cuda``. One module per op family (``reference/<family>.py``, the family's stem in
every tree); every public function of every family module is exported here.
"""
import importlib as _importlib
import pkgutil as _pkgutil

__all__ = []
for _mod in _pkgutil.iter_modules(__path__):
    if not _mod.name.startswith("_"):
        _family = _importlib.import_module(f"{__name__}.{_mod.name}")
        __all__ += _family.__all__
        globals().update({_name: getattr(_family, _name) for _name in _family.__all__})
