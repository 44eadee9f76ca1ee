"""One log format for every chargebus process: the supervisor and each service."""
import logging


def configure(process: str, level: str) -> None:
    """Timestamped lines naming the process, at ``level`` (a name such as "INFO")."""
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s",
    )
    # picows logs every accepted socket at INFO: too much with thousands of stations.
    logging.getLogger("picows").setLevel(max(logging.WARNING, logging.getLogger().level))
    # The format names no source line, thread or process: not looking them up (the
    # logging HOWTO's "Optimization" section) takes a third off each record, and an edge
    # logs every connect and disconnect of every station.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
