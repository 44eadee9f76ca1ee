"""Identities and secrets: NATS credentials and permissions, station passwords, the
certificate authority."""
