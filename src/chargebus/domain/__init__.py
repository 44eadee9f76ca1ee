"""The CSMS's own model and its pure rules: no I/O."""
