"""The edge: holds station WebSockets, answers protocol errors, relays calls to the bus."""
