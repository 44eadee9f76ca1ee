"""What chargebus keeps in JetStream KV: the records and their stores."""
