"""Stateless workers: registry, authorization and transactions. State lives in KV."""
