"""The live line a run shows on stderr: rewritten in place on a terminal, a line every
few seconds otherwise (a log or a CI job)."""
import sys
import time
from typing import TextIO

LOG_EVERY_SECONDS = 5.0
TERMINAL_EVERY_SECONDS = 0.25


class Progress:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._last_shown = 0.0
        self._last_answered = 0
        self._last_time = time.monotonic()
        self._rate = 0.0
        self._width = 0

    def update(self, phase: str, elapsed: float, totals: dict) -> None:
        now = time.monotonic()
        if now - self._last_time >= 1.0:
            answered = totals.get("answered", 0)
            self._rate = (answered - self._last_answered) / (now - self._last_time)
            self._last_answered, self._last_time = answered, now
        if now - self._last_shown < (TERMINAL_EVERY_SECONDS if self.live else LOG_EVERY_SECONDS):
            return
        self._last_shown = now
        self._show(describe(phase, elapsed, totals, self._rate))

    def finish(self) -> None:
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self, line: str) -> None:
        if self.live:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def describe(phase: str, elapsed: float, totals: dict, rate: float) -> str:
    """One line: where the run is and how it goes."""
    stations = totals.get("stations", 0)
    if phase in ("connect", "storm"):
        clock = f"{elapsed:5.1f} s"
    else:
        clock = f"{min(elapsed, totals.get('duration', 0)):5.1f}/{totals.get('duration', 0):.0f} s"
    return (f"[{phase} {clock}] connected {totals.get('connected', 0):,}/{stations:,}"
            f"  booted {totals.get('booted', 0):,}"
            f"  answers {totals.get('answered', 0):,} ({rate:,.0f}/s)"
            f"  CALLERRORs {totals.get('callerrors', 0):,}"
            f"  in flight {totals.get('in_flight', 0):,}")
