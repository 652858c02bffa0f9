# The cdef classes of core.py when Cython compiles it (cmake/cython.cmake): the same fields as the
# __slots__ there, as C struct members, so the compiled core reads and writes them without a lookup.
cdef class VersionCounter:
    cdef public long long version

cdef class Tensor:
    cdef public object _data
    cdef public object grad
    cdef public bint requires_grad
    cdef public object _grad_fn
    cdef public Py_ssize_t _output_nr
    cdef public object _device
    cdef public object _version_counter
    cdef public object _base
    cdef public object _hooks
    cdef public object _post_hooks
    cdef object __weakref__

cdef class Function:
    cdef public tuple needs_input_grad
    cdef public object next_edges
    cdef public Py_ssize_t n_outputs
    cdef public tuple _saved
    cdef public object _retained
    cdef public object _tensor_hooks
    cdef public object forward_stack
    cdef dict __dict__
    cdef object __weakref__

cpdef Tensor _wrap(object a)
