"""The generators of the compiled core's modules, from the OCA JSON schemas: run as
``python -m codegen [validators|scanners]``. Not part of the installed package; the
generated modules are committed, so that building needs neither this nor the network.
"""
