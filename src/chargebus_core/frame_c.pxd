# C types for the compiled build of frame_py.py (compiled as frame_c).
# Names declared cdef here are invisible from Python in the compiled build;
# tests/test_frame.py relies on that to prove this file was applied.

cimport cython


cdef bint _SCANS


cdef class Dialect:
    cdef readonly str name
    cdef readonly dict requests
    cdef readonly dict responses
    cdef readonly object validate_request
    cdef readonly object scan_call
    cdef readonly bint has_send

cdef class Frame:
    cdef readonly int message_type
    cdef readonly str unique_id
    cdef readonly object action
    cdef object _payload
    cdef object _payload_json
    cdef readonly object error_code
    cdef readonly object error_description
    cdef readonly object error_details

@cython.locals(scanned=tuple)
cpdef Frame decode(object data, Dialect dialect)
cpdef validate_response(Dialect dialect, str action, object payload)
cdef _validate(dict validators, Dialect dialect, str action, object payload, str what)
cdef str _read_unique_id(object candidate)
cdef void _expect_length(list message, Py_ssize_t expected, str unique_id) except *
cpdef bytes encode_call(Dialect dialect, str unique_id, str action, object payload)
cpdef bytes encode_call_result(Dialect dialect, str unique_id, str action, object payload)
cpdef bytes encode_call_error(str unique_id, str error_code, str description, dict details)
cdef Frame _frame(int message_type, str unique_id, object action, object payload,
                  object payload_json, object error_code, object error_description,
                  object error_details)
