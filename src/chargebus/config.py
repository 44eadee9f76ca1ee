"""Settings of every chargebus process, read from CHARGEBUS_* environment variables.

The supervisor of the embedded mode passes its settings to its children through the
same variables, so a service started by hand (or in a pod) is configured the same way.
"""
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEBUS_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    data_dir: Path = Path("var")

    edge_host: str = "127.0.0.1"
    edge_port: int = Field(9000, ge=0, le=65535)
    edge_path_prefix: str = "/ocpp/"
    # Names the edge in presence records and in the subject of its station calls.
    edge_node_id: str = Field("edge-1", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # Subprotocols the edge offers, most preferred first.
    edge_subprotocols: tuple[str, ...] = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
    # 0: no authentication (development); 1: HTTP Basic; 2: TLS + Basic; 3: TLS with
    # client certificates. 2 and 3 need the certificate and key, 3 the clients' CA.
    edge_security_profile: int = Field(0, ge=0, le=3)
    edge_tls_certificate: Path | None = None
    edge_tls_key: Path | None = None
    edge_tls_client_ca: Path | None = None
    # A station without an access record: refused (404), or admitted with its boot
    # answered Pending, or admitted and accepted (development).
    unknown_stations: Literal["reject", "pending", "accept"] = "accept"
    edge_max_message_size: int = Field(64 * 1024, ge=1024)
    # A socket that sends nothing for this long is pinged; no pong in time closes it.
    edge_idle_seconds: float = Field(60.0, gt=0)
    edge_pong_seconds: float = Field(30.0, gt=0)
    # A station whose socket drops is marked offline this long after, unless it is back
    # by then: a flapping link, or a whole site reconnecting, writes no offline records.
    edge_offline_grace_seconds: float = Field(5.0, ge=0)
    # JetStream publishes awaiting their ack, at most; beyond, the edge stops reading.
    edge_publish_window: int = Field(4096, gt=0)
    edge_metrics_host: str = "127.0.0.1"
    edge_metrics_port: int = Field(9464, ge=0, le=65535)  # 0: no metrics endpoint
    worker_request_timeout: float = Field(10.0, gt=0)

    heartbeat_interval: int = Field(300, gt=0)

    # A durable consumer redelivers a message not acknowledged within this time (a
    # worker died with it).
    consumer_ack_wait_seconds: float = Field(30.0, gt=0)
    # Transactions closed by rule: a station that rebooted after the last event and
    # sent nothing of the transaction within the grace; or nothing heard for the silence.
    stale_reboot_grace_seconds: float = Field(900.0, gt=0)
    stale_silence_seconds: float = Field(48 * 3600.0, gt=0)
    stale_check_seconds: float = Field(60.0, gt=0)
    # A token's transaction is counted when its start is answered. A count whose
    # transaction has no record this long after (the edge never recorded the call, and
    # the station did not send it again) is dropped; a transaction released is
    # remembered as long, so that a start still under way does not count it again.
    claim_grace_seconds: float = Field(900.0, gt=0)

    # Meter data: a ClickHouse server (clickhouse://host:9000/database, with
    # ?http_port=N where its HTTP interface is not on 8123), or None for chdb embedded
    # in the sink, in <data_dir>/chdb.
    clickhouse_url: str | None = None
    # A batch ClickHouse refused is tried again after 2, 4, 8 ... seconds, at most this.
    sink_max_retry_seconds: float = Field(60.0, gt=0)
    # A sink inserts up to this many messages at once, or what came within the seconds.
    # ClickHouse wants few, large inserts: each makes a part in the samples table and in
    # every materialized view's table, and parts are merged in the background. At 5,000
    # messages or 0.5 s, the merges took a quarter of an embedded sink's CPU at full rate.
    sink_batch_size: int = Field(20_000, gt=0)
    sink_batch_seconds: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _tls_is_complete(self) -> "Settings":
        if self.edge_security_profile >= 2 and not (self.edge_tls_certificate
                                                     and self.edge_tls_key):
            raise ValueError("security profiles 2 and 3 need edge_tls_certificate and "
                             "edge_tls_key")
        if self.edge_security_profile == 3 and not self.edge_tls_client_ca:
            raise ValueError("security profile 3 needs edge_tls_client_ca, the CA that "
                             "signs station certificates")
        return self

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
            if value is None:
                continue
            if isinstance(value, tuple):
                value = json.dumps(value)  # pydantic-settings reads collections as JSON
            environment[f"CHARGEBUS_{name.upper()}"] = str(value)
        return environment
