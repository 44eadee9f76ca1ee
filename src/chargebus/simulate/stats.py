"""The figures of a run: every call's latency per action, CALLERRORs by code, and what
the stations were told; merged across processes, summarised as percentiles."""
import math
from array import array
from collections import Counter
from collections.abc import Sequence

PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


class CallStats:
    """One process's record. Latencies are kept per call (8 bytes each), not binned, so
    that percentiles merged across processes are exact."""

    def __init__(self) -> None:
        self.latencies: dict[str, array] = {}
        self.callerrors: Counter[tuple[str, str]] = Counter()  # (action, code)
        self.timeouts: Counter[str] = Counter()  # action
        self.authorization: Counter[str] = Counter()  # status in the answer
        self.csms_calls: Counter[tuple[str, str]] = Counter()  # (action, how answered)

    def record(self, action: str, seconds: float) -> None:
        samples = self.latencies.get(action)
        if samples is None:
            samples = self.latencies[action] = array("d")
        samples.append(seconds)

    def merge(self, other: "CallStats") -> None:
        for action, samples in other.latencies.items():
            self.latencies.setdefault(action, array("d")).extend(samples)
        self.callerrors.update(other.callerrors)
        self.timeouts.update(other.timeouts)
        self.authorization.update(other.authorization)
        self.csms_calls.update(other.csms_calls)

    @property
    def answered(self) -> int:
        return sum(len(samples) for samples in self.latencies.values())

    def summary(self) -> dict:
        """Per action: answers, CALLERRORs, timeouts and latency percentiles in ms."""
        actions = sorted(set(self.latencies) | {action for action, _ in self.callerrors}
                         | set(self.timeouts))
        per_action = {}
        for action in actions:
            figures = latency_summary(self.latencies.get(action, ()))
            figures["callerrors"] = sum(count for (name, _), count in self.callerrors.items()
                                        if name == action)
            figures["timeouts"] = self.timeouts.get(action, 0)
            per_action[action] = figures
        codes: Counter[str] = Counter()
        for (_, code), count in self.callerrors.items():
            codes[code] += count
        return {
            "actions": per_action,
            "all": latency_summary(
                [value for samples in self.latencies.values() for value in samples]),
            "callerrors": dict(sorted(codes.items())),
            "timeouts": sum(self.timeouts.values()),
            "authorization": dict(sorted(self.authorization.items())),
            "csms_calls": {f"{action} {outcome}": count
                           for (action, outcome), count in sorted(self.csms_calls.items())},
        }


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of values sorted ascending: the smallest value with at
    least ``fraction`` of all values at or below it."""
    if not ordered:
        raise ValueError("no values")
    if not 0 < fraction <= 1:
        raise ValueError(f"a percentile is a fraction in (0, 1], not {fraction}")
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency_summary(seconds: Sequence[float]) -> dict:
    """count, p50, p95, p99 and max in milliseconds (None when there is no value)."""
    ordered = sorted(seconds)
    figures: dict = {"count": len(ordered)}
    for name, fraction in PERCENTILES:
        figures[f"{name}_ms"] = percentile(ordered, fraction) * 1000 if ordered else None
    figures["max_ms"] = ordered[-1] * 1000 if ordered else None
    return figures
