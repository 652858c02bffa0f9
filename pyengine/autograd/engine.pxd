# When Cython compiles engine.py: the engine reads the core's Tensor and Function fields directly.
from pyengine.autograd.core cimport Function, Tensor, _wrap
