"""The meter sink: meter values from the OCPP stream into ClickHouse, in batches."""
