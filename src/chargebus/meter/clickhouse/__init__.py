"""ClickHouse, embedded (chdb) or a server (clickhouse-driver), behind one small API:
the engines run SQL and columnar inserts, the migrations bring the schema to the
version this code expects, adapted to what the server supports."""
