"""Settings of every chargebus process, read from CHARGEBUS_* environment variables.

The supervisor of the embedded mode passes its settings to its children through the
same variables, so a service started by hand (or in a pod) is configured the same way.
"""
import json
import os
import re
from pathlib import Path
from collections.abc import Iterable
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, FilePath, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

ENV_PREFIX = "CHARGEBUS_"
NODE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# pydantic-settings names the field of a collection whose variable is not JSON only so.
_FIELD_OF_SETTINGS_ERROR = re.compile(r'field "(\w+)"')
_PORT_RANGE = re.compile(r"(\d{1,5})-(\d{1,5})")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    # This process's NATS identity: its nkey seed file (chargebus.security.credentials). None: no
    # identity, for a nats-server without authorization; the CLI then takes the
    # operator's seed in the data folder where there is one.
    nats_credentials: FilePath | None = None
    # TLS to NATS (tls:// URLs, or a server that asks for it): the CA that signs the
    # server's certificate, and this process's certificate and key where the server
    # verifies clients.
    nats_tls_ca: FilePath | None = None
    nats_tls_certificate: FilePath | None = None
    nats_tls_key: FilePath | None = None
    data_dir: Path = Path("var")
    # Of every process's log: DEBUG, INFO, WARNING, ERROR or CRITICAL.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    edge_host: str = "127.0.0.1"
    edge_port: int = Field(9000, ge=0, le=65535)
    edge_path_prefix: str = "/ocpp/"
    # Names the edge in presence records and in the subject of its station calls.
    edge_node_id: str = Field("edge-1", pattern=NODE_ID_PATTERN)
    # Subprotocols the edge offers, most preferred first.
    edge_subprotocols: tuple[str, ...] = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
    # 0: no authentication (development); 1: HTTP Basic; 2: TLS + Basic; 3: TLS with
    # client certificates. 2 and 3 need the certificate and key; 3 takes chargebus's own
    # CA as the clients' CA unless one is given (which the external CA mode needs).
    edge_security_profile: int = Field(0, ge=0, le=3)
    edge_tls_certificate: Path | None = None
    edge_tls_key: Path | None = None
    edge_tls_client_ca: Path | None = None
    # A station without an access record: refused (404; under profiles 1 and 2 the 401
    # of a wrong password, so that ids cannot be told from their answers), or admitted
    # with its boot answered Pending, or admitted and accepted (development).
    unknown_stations: Literal["reject", "pending", "accept"] = "accept"
    # Password guessing (profiles 1 and 2). A station id, known or not, may fail this
    # many times in a row; after that each failure doubles the wait before its next
    # check, from the delay up to the max delay; at the lockout count the id is refused,
    # right password or not, for the lockout. Failures are forgotten that long after the
    # last one; a right password forgets them at once.
    edge_auth_free_failures: int = Field(3, ge=0)
    edge_auth_delay_seconds: float = Field(1.0, gt=0)
    edge_auth_max_delay_seconds: float = Field(60.0, gt=0)
    edge_auth_lockout_failures: int = Field(10, ge=1)
    edge_auth_lockout_seconds: float = Field(300.0, gt=0)
    # A source address is never locked out (a site's stations share one behind NAT):
    # past this many refusals each of its attempts is held before it is checked or
    # answered, from the delay above doubling up to the max here, and at most the
    # checks' number of them wait for a check at once (more are refused, 429). A
    # station whose password verified before on this edge is never held.
    edge_auth_address_free_failures: int = Field(50, ge=0)
    edge_auth_address_max_delay_seconds: float = Field(5.0, gt=0)
    edge_auth_address_checks: int = Field(16, ge=1)
    # An edge asks the workers to check passwords (it may not read the hashes): at most
    # this many of its checks are under way at once, beyond that a station is answered
    # 503; as is one no worker answered within the timeout.
    edge_password_queue: int = Field(1024, ge=1)
    edge_password_check_timeout_seconds: float = Field(5.0, gt=0)
    # Each worker checks password hashes in this many processes beside it, off its event
    # loop; at most the queue's number of checks wait for one, beyond that the edge is
    # told "busy".
    worker_password_processes: int = Field(1, ge=1, le=64)
    worker_password_queue: int = Field(1024, ge=1)
    edge_max_message_size: int = Field(64 * 1024, ge=1024)
    # A socket that sends nothing for this long is pinged; no pong in time closes it.
    edge_idle_seconds: float = Field(60.0, gt=0)
    edge_pong_seconds: float = Field(30.0, gt=0)
    # A station whose socket drops is marked offline this long after, unless it is back
    # by then: a flapping link, or a whole site reconnecting, writes no offline records.
    edge_offline_grace_seconds: float = Field(5.0, ge=0)
    # How often the edge writes when each station last sent something (the fleet view's
    # last message time is at most this old): at 100,000 stations, 333 writes a second.
    edge_heard_refresh_seconds: float = Field(300.0, gt=0)
    # JetStream publishes awaiting their ack, at most; beyond, the edge stops reading.
    edge_publish_window: int = Field(4096, gt=0)
    # Calls (and 2.1 SENDs) a station may make per second, and at once: a station over
    # it is not read until it may call again (TCP holds the rest). 0: no limit.
    edge_station_calls_per_second: float = Field(20.0, ge=0)
    edge_station_call_burst: int = Field(100, gt=0)
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
    # A 1.6 StartTransaction is the one a remote start caused when it comes within this
    # of the request, for its token and connector (1.6 carries no reference: the
    # driver has the station's ConnectionTimeOut to plug in). Remote starts are kept a day.
    remote_start_window_seconds: float = Field(180.0, gt=0)
    # How long the edge waits for the integration of a DataTransfer's vendor id before
    # it answers Rejected (a station waits for its answer, usually 30 s or more).
    data_transfer_timeout_seconds: float = Field(5.0, gt=0)
    # A station's configuration (1.6 keys, the 2.x device model) is asked for when it
    # first boots and when its firmware changes, as CitrineOS does.
    device_model_on_boot: bool = True

    # The load manager (chargebus.services.workers.loadmanager): it divides each site
    # again on every change of its sessions and at least once a period; a temporary
    # limit is put in place up to a period before it begins.
    load_manager_period_seconds: float = Field(10.0, gt=0)
    # How long it waits for a station to answer a profile before it counts the station
    # at its maximum; such a station is tried again after load_manager_retry_seconds.
    load_manager_call_timeout_seconds: float = Field(2.0, gt=0)
    load_manager_retry_seconds: float = Field(30.0, gt=0)
    # The stack level of its TxProfiles and TxDefaultProfiles: above the operator's own
    # (chargebus charging profile set defaults to 0), within what stations allow
    # (1.6 ChargeProfileMaxStackLevel is often 8 or 10).
    load_manager_stack_level: int = Field(5, ge=0)

    # Firmware roll-outs (chargebus.services.workers.rollouts) go on as their stations'
    # updates end, and at least this often.
    rollout_period_seconds: float = Field(10.0, gt=0)

    # The file service (chargebus.services.files): firmware images to stations, and their
    # diagnostics and logs from them, over HTTP(S) and FTP, each URL opening one grant
    # (chargebus.files.grants). The public URLs are what stations are told, where a proxy
    # or NAT stands between (default: the host and port it listens on).
    files_host: str = "127.0.0.1"
    files_http_port: int = Field(8180, ge=0, le=65535)
    files_ftp_port: int = Field(2121, ge=0, le=65535)  # 0: no FTP
    files_public_url: str | None = None
    files_ftp_public_host: str | None = None
    # HTTPS with this certificate and key (PEM) where both are given.
    files_tls_certificate: FilePath | None = None
    files_tls_key: FilePath | None = None
    # FTP passive data connections take ports from this range ("first-last"; empty: any).
    files_ftp_passive_ports: str = ""
    # What a station may upload for one request, and how long its URL stays open.
    files_max_upload_bytes: int = Field(100 << 20, gt=0)
    files_upload_minutes: float = Field(60.0, gt=0)
    files_download_minutes: float = Field(24 * 60.0, gt=0)

    # The operator's HTTP API (chargebus.services.api): /api/v1 on this host and port,
    # HTTPS with this certificate and key (PEM) where both are given. Each API key may
    # make api_rate_per_second requests a second on average, api_rate_burst at once
    # (per API process: several behind a load balancer each count their own).
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    api_tls_certificate: FilePath | None = None
    api_tls_key: FilePath | None = None
    api_rate_per_second: float = Field(50.0, gt=0)
    api_rate_burst: int = Field(100, gt=0)

    # Webhooks (chargebus.manage.webhooks): a receiver has this long to answer, and one
    # that did not take an event gets it again after 1, 2, 4 ... seconds, at most this.
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_max_retry_seconds: float = Field(60.0, gt=0)

    # Station certificates (chargebus.security.certificates). chargebus signs stations' CSRs with
    # its own CA: made on first start in <data_dir>/ca unless the operator gives its
    # certificate and key; or, external, hands them to an integration on cb.ca.sign.
    ca_mode: Literal["internal", "external"] = "internal"
    ca_certificate: Path | None = None
    ca_key: Path | None = None
    ca_sign_timeout_seconds: float = Field(30.0, gt=0)
    # A CSR's subject O must be this (the station's OrganizationName / CpoName).
    certificate_organization: str = Field("chargebus", min_length=1, max_length=64)
    certificate_validity_days: int = Field(365, gt=0, le=3650)
    # A station's certificate this close to its end gets a renewal asked for
    # (TriggerMessage SignChargingStationCertificate), at most once per repeat; the
    # workers look this often.
    certificate_renew_before_days: float = Field(30.0, ge=0)
    certificate_renew_repeat_hours: float = Field(24.0, gt=0)
    certificate_check_seconds: float = Field(3600.0, gt=0)

    # Meter data: a ClickHouse server (clickhouse://host:9000/database, with
    # ?http_port=N where its HTTP interface is not on 8123), or None for chdb embedded
    # in the sink, in <data_dir>/chdb.
    clickhouse_url: str | None = None
    # A batch ClickHouse refused is tried again after 2, 4, 8 ... seconds, at most this.
    sink_max_retry_seconds: float = Field(60.0, gt=0)
    # A sink inserts up to this many messages at once, or what came within the seconds.
    # ClickHouse wants few, large inserts: each makes a part in the samples table and in
    # every materialized view's table, and parts are merged in the background; with a
    # quarter of these batches the merges took a large share of an embedded sink's CPU
    # (benchmarks/README.md).
    sink_batch_size: int = Field(20_000, gt=0)
    sink_batch_seconds: float = Field(1.0, gt=0)
    # Read-only SQL from outside (chargebus sql, the analytics) runs with ClickHouse's
    # readonly=1, and ClickHouse stops a query that runs longer, takes more memory or
    # answers more rows than this; it uses at most this many threads, so that ingest
    # keeps the others (chargebus.meter.clickhouse.querylimits).
    query_timeout_seconds: int = Field(60, gt=0)
    query_max_memory_bytes: int = Field(1 << 30, gt=0)
    query_max_rows: int = Field(1_000_000, gt=0)
    query_max_threads: int = Field(1, gt=0)
    # On a server, such queries run as this ClickHouse user, whose profile in users.xml
    # holds readonly=1 and the limits above (README, Queries).
    clickhouse_query_user: str = "chargebus_query"
    clickhouse_query_password: str = ""

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _tls_is_complete(self) -> "Settings":
        profile = f"{variable('edge_security_profile')}={self.edge_security_profile}"
        if self.edge_security_profile >= 2 and not (self.edge_tls_certificate
                                                     and self.edge_tls_key):
            raise ValueError(f"{profile} needs {variable('edge_tls_certificate')} and "
                             f"{variable('edge_tls_key')}")
        if (self.edge_security_profile == 3 and not self.edge_tls_client_ca
                and self.ca_mode == "external"):
            raise ValueError(f"{profile} with {variable('ca_mode')}=external needs "
                             f"{variable('edge_tls_client_ca')}, the CA that signs station "
                             "certificates")
        if (self.ca_certificate is None) != (self.ca_key is None):
            raise ValueError(f"{variable('ca_certificate')} and {variable('ca_key')} go "
                             "together: the CA's certificate and its private key")
        if bool(self.files_tls_certificate) != bool(self.files_tls_key):
            raise ValueError(f"{variable('files_tls_certificate')} and "
                             f"{variable('files_tls_key')} go together")
        if bool(self.api_tls_certificate) != bool(self.api_tls_key):
            raise ValueError(f"{variable('api_tls_certificate')} and "
                             f"{variable('api_tls_key')} go together")
        if self.files_ftp_passive_ports and not _PORT_RANGE.fullmatch(
                self.files_ftp_passive_ports):
            raise ValueError(f"{variable('files_ftp_passive_ports')} is first-last, "
                             f"such as 30000-30099")
        if bool(self.nats_tls_certificate) != bool(self.nats_tls_key):
            raise ValueError(f"{variable('nats_tls_certificate')} and {variable('nats_tls_key')} "
                             "go together")
        return self

    @property
    def ca_folder(self) -> Path:
        """Where chargebus makes its own CA when the operator gives none."""
        return self.data_dir / "ca"

    @property
    def ca_certificate_path(self) -> Path:
        """chargebus's CA certificate: the operator's, or the one made in ca_folder."""
        return self.ca_certificate or self.ca_folder / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.ca_key or self.ca_folder / "ca.key"

    @property
    def client_ca(self) -> Path | None:
        """Profile 3: the CA whose station certificates the edge accepts."""
        if self.edge_security_profile != 3:
            return None
        return self.edge_tls_client_ca or self.ca_certificate_path

    @property
    def stations_url(self) -> str:
        """Where stations connect, up to their id: wss where the edge runs TLS."""
        scheme = "wss" if self.edge_security_profile >= 2 else "ws"
        return f"{scheme}://{self.edge_host}:{self.edge_port}{self.edge_path_prefix}"

    @property
    def files_url(self) -> str:
        """The file service's HTTP(S) root as stations reach it, ending in /."""
        if self.files_public_url:
            return self.files_public_url.rstrip("/") + "/"
        scheme = "https" if self.files_tls_certificate else "http"
        return f"{scheme}://{self.files_host}:{self.files_http_port}/"

    @property
    def api_url(self) -> str:
        """The HTTP API's root, ending in /api/v1."""
        scheme = "https" if self.api_tls_certificate else "http"
        return f"{scheme}://{self.api_host}:{self.api_port}/api/v1"

    @property
    def files_ftp_address(self) -> tuple[str, int]:
        """The FTP server's host and port as stations reach it."""
        return self.files_ftp_public_host or self.files_host, self.files_ftp_port

    @property
    def files_passive_ports(self) -> range | None:
        found = _PORT_RANGE.fullmatch(self.files_ftp_passive_ports)
        return range(int(found[1]), int(found[2]) + 1) if found else None

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

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
            environment[variable(name)] = str(value)
        return environment


def variable(field: str) -> str:
    """The environment variable that sets a field of Settings."""
    return ENV_PREFIX + field.upper()


class SettingsProblem(ValueError):
    """Settings that cannot be used: a line per problem, naming the variable, its value
    and what it may be, for whoever set the variable (the field names are code's)."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(**overrides: Any) -> Settings:
    """The settings of the environment, with ``overrides`` (checked where they are given,
    as command-line options are); SettingsProblem when they cannot be used."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsProblem([_problem(item) for item in error.errors()]) from None
    except SettingsError as error:  # a collection's variable that is not JSON
        named = _FIELD_OF_SETTINGS_ERROR.search(str(error))
        if named is None or named[1] not in Settings.model_fields:
            raise SettingsProblem([str(error)]) from None
        field = named[1]
        raise SettingsProblem([f"{variable(field)}={_environment_value(field)}: "
                               f"{_allowed(field, str(error))}"]) from None


def _problem(item: ErrorDetails) -> str:
    if not item["loc"]:  # a rule over several fields, which words its own message
        return str(item.get("ctx", {}).get("error", item["msg"]))
    field = str(item["loc"][0])
    value = item["input"] if len(item["loc"]) == 1 else _environment_value(field)
    return f"{variable(field)}={value}: {_allowed(field, item['msg'])}"


def _environment_value(field: str) -> str:
    wanted = variable(field)  # pydantic-settings reads variables without regard to case
    return next((value for name, value in os.environ.items() if name.upper() == wanted), "")


def _allowed(field: str, fallback: str) -> str:
    """What the field may be, from its type and constraints."""
    info = Settings.model_fields[field]
    kind = info.annotation
    limits = {name: getattr(constraint, name) for constraint in info.metadata
              for name in ("gt", "ge", "lt", "le", "pattern")
              if getattr(constraint, name, None) is not None}
    if get_origin(kind) is Literal:
        return f"must be {_either(get_args(kind))}"
    if kind is int and "ge" in limits and "le" in limits and limits["le"] - limits["ge"] < 5:
        return f"must be {_either(range(limits['ge'], limits['le'] + 1))}"
    if kind in (int, float):
        return f"must be {'a whole number' if kind is int else 'a number'}{_range(limits)}"
    if "pattern" in limits:
        return f"must match {limits['pattern']}"
    if get_origin(kind) is tuple:
        return f"must be a JSON list, like {json.dumps(info.default)}"
    return fallback.replace("Input should be", "must be")


def _either(values: Iterable[object]) -> str:
    words = [str(value) for value in values]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def _range(limits: dict) -> str:
    if "ge" in limits and "le" in limits:
        return f" from {limits['ge']} to {limits['le']}"
    low = (f" above {limits['gt']}" if "gt" in limits
           else f" of at least {limits['ge']}" if "ge" in limits else "")
    high = (f" below {limits['lt']}" if "lt" in limits
            else f" of at most {limits['le']}" if "le" in limits else "")
    return low + ("," if low and high else "") + high
