"""Meter data: the sampling rules, ClickHouse columns, the store's SQL, analytics."""
