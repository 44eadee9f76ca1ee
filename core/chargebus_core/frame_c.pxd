# C types for the compiled build of frame_py.py (compiled as frame_c).
# Names declared cdef here are invisible from Python in the compiled build;
# tests/test_frame.py relies on that to prove this file was applied.

cdef class Frame:
    cdef readonly int message_type
    cdef readonly str unique_id
    cdef readonly object action
    cdef readonly object payload
    cdef readonly object error_code
    cdef readonly object error_description
    cdef readonly object error_details

cpdef Frame decode(object data)
cdef str _read_unique_id(object candidate)
cdef void _expect_length(list message, Py_ssize_t expected, str unique_id) except *
cpdef bytes encode_call(str unique_id, str action, dict payload)
cpdef bytes encode_call_result(str unique_id, dict payload)
cpdef bytes encode_call_error(str unique_id, str error_code, str description, dict details)
