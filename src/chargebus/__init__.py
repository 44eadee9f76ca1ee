"""chargebus: an OCPP charging station management system on NATS JetStream and ClickHouse."""

__version__ = "0.1.0"
