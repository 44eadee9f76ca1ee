"""Settings of every chargebus process, read from CHARGEBUS_* environment variables.

The supervisor of the embedded mode passes its settings to its children through the
same variables, so a service started by hand (or in a pod) is configured the same way.
"""
import json
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBUS_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    data_dir: Path = Path("var")

    edge_host: str = "127.0.0.1"
    edge_port: int = Field(9000, ge=0, le=65535)
    edge_path_prefix: str = "/ocpp/"
    edge_node_id: str = "edge-1"
    # Subprotocols the edge offers, most preferred first.
    edge_subprotocols: tuple[str, ...] = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
    worker_request_timeout: float = Field(10.0, gt=0)

    heartbeat_interval: int = Field(300, gt=0)

    sink_batch_size: int = Field(5000, gt=0)
    sink_batch_seconds: float = Field(0.5, gt=0)

    @property
    def chdb_path(self) -> Path:
        return self.data_dir / "chdb"

    @property
    def nats_store_dir(self) -> Path:
        return self.data_dir / "nats"

    def as_environment(self) -> dict[str, str]:
        """These settings as the environment variables that reproduce them."""
        environment = {}
        for name, value in self.model_dump().items():
            if isinstance(value, tuple):
                value = json.dumps(value)  # pydantic-settings reads collections as JSON
            environment[f"CHARGEBUS_{name.upper()}"] = str(value)
        return environment
