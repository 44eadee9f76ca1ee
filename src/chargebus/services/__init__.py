"""The processes chargebus runs: each package holds what only it uses."""
