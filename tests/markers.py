"""The suite's three kinds of test, as pytest markers (registered in pyproject.toml):
``system`` starts chargebus or a part of it as processes (nats-server, `chargebus run`,
an edge, workers or sink process), ``clickhouse`` needs a ClickHouse server, and every
other test is a ``unit`` test, which `make test-fast` runs alone.

The markers come from the fixtures a test uses, directly or through other fixtures;
a test that starts processes in its own body, or through ``request.getfixturevalue``,
carries its markers itself. A guard holds them to it in every run: a test that starts
a process its markers do not name fails, and the process is not started."""
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The fixtures that start processes, wherever they are defined (conftest.py and the
# modules named); a test that uses one, or a fixture built on one, gets the marker.
SYSTEM_FIXTURES = frozenset({
    "system",  # conftest.py: `chargebus run`, shared by the session
    "cluster",  # test_workers.py: a system and two more workers processes
    "profile3",  # test_certificates.py: a system on security profile 3
    "chdb_system", "server_system",  # test_queries.py, test_clickhouse.py
    "baseline",  # test_simulate.py: the ocpp library's CSMS, the simulator's baseline
    "site_system",  # test_load_manager.py: a system of its own for its sites
})
CLICKHOUSE_FIXTURES = frozenset({"clickhouse"})  # clickhouse_server.ClickHouseServer

# The services' modules (python -m chargebus.services.<name>).
SERVICE_MODULE = re.compile(r"chargebus\.services\.\w+")


def started_part(argv: list[str]) -> tuple[str, str] | None:
    """What a command starts that only a marked test may start, and the marker it
    needs: (what, marker), or None for any other command."""
    program = Path(argv[0]).name
    if program == "nats-server":
        return program, "system"
    if program in ("clickhouse-server", "clickhouse"):
        return program, "clickhouse"
    if program == "chargebus" and "run" in argv[1:]:
        return "chargebus run", "system"
    for option, module in zip(argv[1:], argv[2:]):
        if option == "-m" and SERVICE_MODULE.fullmatch(module):
            return f"python -m {module}", "system"
    return None


class StartedUnmarked(Exception):
    """A test started a process its markers do not name."""


@dataclass
class Guard:
    """The test now running, and what it started against its markers; fed by an audit
    hook, which sees every process this one starts through subprocess.Popen: the
    suite's own, and asyncio's on the default event loop (uvloop spawns its own, and
    the tests run no processes on it)."""
    running: pytest.Item | None = None
    offences: list[str] = field(default_factory=list)

    def audit(self, event: str, arguments: tuple) -> None:
        if event != "subprocess.Popen" or self.running is None:
            return
        command = arguments[1]  # (executable, args, cwd, env)
        if isinstance(command, str):
            argv = shlex.split(command)
        elif isinstance(command, bytes | os.PathLike):
            argv = [os.fsdecode(command)]
        else:
            argv = [os.fsdecode(argument) for argument in command]
        started = started_part(argv) if argv else None
        if started is None:
            return
        what, marker = started
        if self.running.get_closest_marker(marker) is None:
            offence = (f"{self.running.nodeid} started {what} without the {marker!r} "
                       f"marker (tests/markers.py says how tests get it)")
            self.offences.append(offence)
            raise StartedUnmarked(offence)


GUARD = pytest.StashKey[Guard]()


def pytest_configure(config: pytest.Config) -> None:
    guard = Guard()
    config.stash[GUARD] = guard
    sys.addaudithook(guard.audit)


@pytest.hookimpl(tryfirst=True)  # before -m selects by the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & SYSTEM_FIXTURES and item.get_closest_marker("system") is None:
            item.add_marker(pytest.mark.system)
        if used & CLICKHOUSE_FIXTURES and item.get_closest_marker("clickhouse") is None:
            item.add_marker(pytest.mark.clickhouse)
        if item.get_closest_marker("system") is None \
                and item.get_closest_marker("clickhouse") is None:
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item):
    guard = item.config.stash[GUARD]
    guard.running = item
    try:
        return (yield)
    finally:
        guard.running = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item):
    """A test that caught the guard's error still fails."""
    report = yield
    guard = item.config.stash[GUARD]
    if guard.offences and report.passed:
        report.outcome = "failed"
        report.longrepr = "\n".join(guard.offences)
    guard.offences.clear()
    return report
