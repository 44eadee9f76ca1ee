"""NATS: the client, the streams and buckets, consumers, request-reply, and the names of
subjects and headers."""
