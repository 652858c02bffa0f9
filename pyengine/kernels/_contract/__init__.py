"""The kernel contract: argument normalisation and shape checks shared by every implementation.

``pyengine.reference``, ``pyengine.kernels.cpu`` and ``pyengine.kernels.cuda`` call the same check
function per op family (one module each here), so the three accept and reject exactly the same
inputs with the same messages, and forward and backward agree on output sizes.
"""
