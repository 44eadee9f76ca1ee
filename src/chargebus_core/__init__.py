"""chargebus fast path: OCPP-J wire handling, compiled with Cython.

Every module here is written once, in Python that Cython compiles; a ``<name>_c.pxd``
adds C types to the compiled build, and ``<name>.py`` picks the compiled build unless
``CHARGEBUS_NO_EXTENSIONS`` is set in the environment.
"""
