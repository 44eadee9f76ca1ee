# C types for the compiled build of validation_py.py (compiled as validation_c), which
# the compiled schemas_<v>_c modules cimport.

cdef long _number(str text, Py_ssize_t start, Py_ssize_t length)
cdef bint _is_datetime(str text) except -1
cdef int _violation(str keyword, str message) except -1
cdef int _too_long(Py_ssize_t max_length) except -1
cdef int _not_a_member(tuple members) except -1
cdef int _check_integer4(object value) except -1
cdef int _check_integer6(object value) except -1
cdef int _check_number(object value) except -1
cdef int _check_boolean(object value) except -1
cdef int _check_minimum(object value, object minimum) except -1
cdef int _check_maximum(object value, object maximum) except -1
cdef int _check_multiple(object value, str step) except -1
cdef Py_ssize_t _identify(object key, tuple names, list seen) except -2
cdef int _missing(dict value, tuple required) except -1
