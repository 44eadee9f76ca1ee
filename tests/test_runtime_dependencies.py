"""What `make run` installs is enough to run chargebus: proven in a virtualenv made by
the Makefile's own recipe, which has the runtime dependencies and nothing of the dev
extras that this suite runs with."""
import re
import signal
import subprocess
import tomllib
from pathlib import Path

import orjson
import pytest

from conftest import free_port

# A system test (tests/markers.py): it builds what `make run` installs, which takes
# minutes, and starts `chargebus run` from it.
pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("chargebus", "chargebus_core")

# Imports every module of the installed packages but the __main__ modules, which start
# a service when imported (`chargebus run` below starts each of them); prints what failed.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
failed, imported = {}, []
for name in sys.argv[1:]:
    package = importlib.import_module(name)
    modules = [name] + [info.name for info in pkgutil.walk_packages(package.__path__, name + ".")]
    for module in modules:
        if module.rpartition(".")[2] == "__main__":
            continue
        try:
            importlib.import_module(module)
            imported.append(module)
        except Exception as error:
            failed[module] = repr(error)
print(json.dumps({"imported": imported, "failed": failed}))
"""


# In the runtime venv: every distribution installed, those that chargebus requires,
# directly or through another (extras left out, environment markers evaluated), and
# those of the build tools the Makefile installs first.
REQUIRED_CLOSURE = """
import json, re
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:  # not every runtime venv has it; pip carries a copy
    from pip._vendor.packaging.requirements import Requirement
def name(text):
    return re.sub(r"[-_.]+", "-", text).lower()
found = {name(d.metadata["Name"]): d for d in metadata.distributions()}
def closure(*roots):
    required, todo = set(), list(roots)
    while todo:
        current = todo.pop()
        if current in required or current not in found:
            continue
        required.add(current)
        for text in found[current].requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(name(requirement.name))
    return sorted(required)
print(json.dumps({"installed": sorted(found), "required": closure("chargebus"),
                  "build_tools": closure("pip", "setuptools", "wheel", "cython")}))
"""


def _distribution(requirement: str) -> str:
    name = re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    made = subprocess.run(["make", "--no-print-directory", f"VENV={venv}", f"{venv}/.installed"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    return venv


@pytest.mark.timeout(900)
def test_the_runtime_venv_holds_only_what_chargebus_needs(runtime_venv):
    """Every distribution in it is what chargebus requires, however deep, or what the
    Makefile's build tools do: no dev extra crept in."""
    done = subprocess.run([runtime_venv / "bin" / "python", "-c", REQUIRED_CLOSURE],
                          capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_distribution(r) for r in project["dependencies"]}
    assert runtime <= set(report["required"])
    assert set(report["installed"]) - set(report["required"]) - set(report["build_tools"]) == set()
    extras = project["optional-dependencies"]
    dev_only = {_distribution(r) for r in extras["dev"] + extras["generate"]}
    assert {"pytest", "hypothesis", "websockets", "ocpp"} <= dev_only - set(report["installed"])


@pytest.mark.timeout(900)
def test_every_module_imports_with_the_runtime_dependencies_alone(runtime_venv):
    done = subprocess.run([runtime_venv / "bin" / "python", "-c", IMPORT_ALL, *PACKAGES],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["failed"] == {}
    # The walk found the packages' modules, not only the packages.
    for module in ("chargebus.cli", "chargebus.meter.columns", "chargebus_core.frame_c",
                   "chargebus.services.edge.server", "chargebus.services.sink.main"):
        assert module in report["imported"]


@pytest.mark.timeout(900)
def test_chargebus_run_starts_with_the_runtime_dependencies_alone(runtime_venv, tmp_path):
    process = subprocess.Popen(
        [runtime_venv / "bin" / "chargebus", "--nats-url", f"nats://127.0.0.1:{free_port()}",
         "run", "--edge-port", str(free_port()), "--metrics-port", str(free_port()),
         "--files-port", str(free_port()), "--ftp-port", "0", "--api-port", str(free_port()),
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"})
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("  Ctrl-C stops everything"):
                break
        assert "chargebus is running.\n" in lines, "".join(lines)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, "".join(lines) + rest
        assert "Traceback" not in "".join(lines) + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
