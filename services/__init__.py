"""The deployable chargebus services; each runs as ``python -m chargebus_services.<name>``."""
