"""The guard of the suite's markers (tests/markers.py), run on tests of its own in a pytest
of its own: a test that starts what its markers do not name fails, even when it catches
the guard's error, and the process is not started; what its markers name, and any other
command, it starts."""
import re
import sys
from pathlib import Path

import pytest

import markers

TESTS = Path(__file__).resolve().parent
PYPROJECT = TESTS.parent / "pyproject.toml"
BIN = Path(sys.executable).parent

PLANTED = f'''
import subprocess
from pathlib import Path

import pytest

from markers import StartedUnmarked

NATS_SERVER = {str(BIN / "nats-server")!r}
CHARGEBUS = {str(BIN / "chargebus")!r}


def started(*argv: str) -> int:
    return subprocess.run(argv, capture_output=True, timeout=60).returncode


@pytest.mark.parametrize("argv", [
    (NATS_SERVER, "--version"),
    (CHARGEBUS, "--nats-url", "nats://127.0.0.1:1", "run", "--help"),
    ("python3", "-m", "chargebus.services.sink"),
    ("python3", "-m", "chargebus.services.edge"),
])
def test_unit_starts(argv):
    with pytest.raises(StartedUnmarked):
        started(*argv)


@pytest.mark.system
def test_system_starts_clickhouse():
    with pytest.raises(StartedUnmarked):
        started("clickhouse-server", "--version")


@pytest.mark.system
def test_system_starts_nats_server():
    assert started(NATS_SERVER, "--version") == 0


def test_unit_starts_another_command():
    assert started(CHARGEBUS, "--help") == 0
'''


def test_a_test_starting_what_its_markers_do_not_name_fails(pytester: pytest.Pytester):
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                          "pytest_plugins = ['markers']\n")
    planted = pytester.makepyfile(test_planted=PLANTED)
    result = pytester.runpytest_subprocess("-c", str(PYPROJECT), "--rootdir", str(pytester.path),
                                           "-q", "-rA", str(planted))
    outcomes = {match.group(2): match.group(1) for match in re.finditer(
        r"^(PASSED|FAILED) test_planted\.py::(\S+)", "\n".join(result.outlines), re.M)}
    assert outcomes == {
        "test_unit_starts[argv0]": "FAILED", "test_unit_starts[argv1]": "FAILED",
        "test_unit_starts[argv2]": "FAILED", "test_unit_starts[argv3]": "FAILED",
        "test_system_starts_clickhouse": "FAILED",
        "test_system_starts_nats_server": "PASSED", "test_unit_starts_another_command": "PASSED",
    }, result.stdout.str()
    result.stdout.fnmatch_lines([
        "*test_unit_starts?argv0? started nats-server without the 'system' marker*",
        "*test_unit_starts?argv1? started chargebus run without the 'system' marker*",
        "*started python -m chargebus.services.sink without the 'system' marker*",
        "*started python -m chargebus.services.edge without the 'system' marker*",
        "*test_system_starts_clickhouse started clickhouse-server without the 'clickhouse'*",
    ], consecutive=False)


@pytest.mark.parametrize("argv, started", [
    (["/usr/sbin/clickhouse-server", "--config-file=x.xml"], ("clickhouse-server", "clickhouse")),
    (["/x/bin/chargebus", "tokens", "list"], None),
    (["/x/bin/chargebus", "simulate", "--url", "ws://127.0.0.1:1/"], None),
    (["/x/bin/python", "-m", "chargebus.cli"], None),
    (["/x/bin/python", "-c", "import chargebus.services.sink"], None),
])
def test_what_a_command_starts(argv, started):
    assert markers.started_part(argv) == started
