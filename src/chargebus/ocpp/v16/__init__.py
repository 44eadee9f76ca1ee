"""OCPP 1.6: its payloads to and from chargebus's model, its meter-value calls."""
