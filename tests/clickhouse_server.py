"""A real ClickHouse server for the tests: Debian's clickhouse-server package, which
scripts/clickhouse-server.sh installs (`make test` runs it first), started on free ports
with a data folder and users of its own (the sink's query user among them, as the README
has it), stopped afterwards. No package, no server: the tests that need one fail, they
do not skip."""
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from chargebus.meter.clickhouse.querylimits import QueryLimits
from chargebus.runtime.config import Settings

QUERY_USER = Settings.model_fields["clickhouse_query_user"].default

START_SECONDS = 60.0

CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{folder}/server.log</log>
        <errorlog>{folder}/server.err.log</errorlog>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp_port}</tcp_port>
    <http_port>{http_port}</http_port>
    <path>{folder}/data/</path>
    <tmp_path>{folder}/tmp/</tmp_path>
    <user_files_path>{folder}/user_files/</user_files_path>
    <format_schema_path>{folder}/format_schemas/</format_schema_path>
    <users_config>{folder}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>64</max_concurrent_queries>
</yandex>
"""


# The default user (the sink's inserts and migrations) and the query user, whose
# profile holds readonly=1 and the limits.
USERS = """<?xml version="1.0"?>
<yandex>
    <profiles>
        <default><max_memory_usage>10000000000</max_memory_usage></default>
        <{query_user}>{query_profile}</{query_user}>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <{query_user}>
            <password></password>
            <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
            <profile>{query_user}</profile>
            <quota>default</quota>
        </{query_user}>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"""


def installed() -> str:
    binary = shutil.which("clickhouse-server")
    if not binary:
        raise RuntimeError("clickhouse-server is not installed (or not on PATH): "
                           "scripts/clickhouse-server.sh installs it, `make test` runs it")
    return binary


@dataclass
class ClickHouseServer:
    folder: Path
    tcp_port: int
    http_port: int
    query_limits: QueryLimits = field(default_factory=QueryLimits.defaults)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.tcp_port}/default?http_port={self.http_port}"

    def start(self) -> None:
        binary = installed()
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.xml"
        config.write_text(CONFIG.format(folder=self.folder, tcp_port=self.tcp_port,
                                        http_port=self.http_port))
        profile = "".join(f"<{name}>{value}</{name}>"
                          for name, value in self.query_limits.profile().items())
        (self.folder / "users.xml").write_text(USERS.format(query_user=QUERY_USER,
                                                            query_profile=profile))
        # Without the preloads of a moved clock (scripts/moved-clock.sh): jemalloc's malloc
        # calls clock_gettime, libfaketime's looks its real functions up with dlsym, which
        # calls malloc again under jemalloc's lock, and the server hangs at start. So it
        # keeps the true time, as nats-server and chdb do.
        environment = {name: value for name, value in os.environ.items()
                       if name != "LD_PRELOAD"}
        self.process = subprocess.Popen([binary, f"--config-file={config}"], env=environment,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("clickhouse-server exited: "
                                   + (self.folder / "server.err.log").read_text()[-2000:])
            if self.answers():
                return
            time.sleep(0.2)
        self.stop()  # not left running, unanswering, after the tests
        raise RuntimeError("clickhouse-server did not answer in time")

    def answers(self) -> bool:
        from clickhouse_driver import Client
        try:
            Client("127.0.0.1", port=self.tcp_port, connect_timeout=1).execute("SELECT 1")
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def query(self, sql: str) -> list[tuple]:
        from clickhouse_driver import Client
        return Client("127.0.0.1", port=self.tcp_port).execute(sql)
