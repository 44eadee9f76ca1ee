"""Running chargebus: settings, the service frame, the supervisor, nats-server."""
