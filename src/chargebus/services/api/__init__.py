"""The operator's HTTP API: /api/v1, its OpenAPI document and its docs."""
