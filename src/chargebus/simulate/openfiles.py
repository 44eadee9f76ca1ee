"""The open files a simulator process needs: a socket per station, and a few more."""
import resource

from chargebus.simulate.errors import SimulationError
from chargebus.simulate.options import Options

# Beyond the sockets: pipes, the event loop, imports.
FILES_PER_PROCESS = 64


def raise_open_files_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if needed > hard:
        raise SimulationError(
            f"{needed} open files are needed in one process and this machine allows {hard}; "
            "use more --processes")
    if needed > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))



def files_needed(options: Options) -> int:
    return -(-options.stations // options.processes) + FILES_PER_PROCESS
