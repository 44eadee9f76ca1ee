"""OCPP 2.0.1 and 2.1: their payloads to and from chargebus's model, their meter-value calls."""
