"""What one process's stations count as they go: its runner sends the figures on to the
parent, and starts the call figures anew for each phase."""
from collections import Counter

from chargebus.simulate.stats import CallStats


class Tally:
    __slots__ = ("stats", "connect_failures", "sent", "lost_calls", "unexpected", "malformed",
                 "disconnects", "boot_retries")

    def __init__(self) -> None:
        self.stats = CallStats()  # of the phase under way
        self.connect_failures: Counter[str] = Counter()  # by reason
        self.sent = 0  # calls
        self.lost_calls = 0  # under way when their socket went
        self.unexpected = 0  # answers to no call under way: late, or never asked for
        self.malformed = 0  # messages that are not OCPP-J
        self.disconnects = 0  # sockets lost, not closed on purpose
        self.boot_retries = 0  # boots not accepted (Pending, Rejected, no answer), sent again

    def counters(self) -> dict[str, int | Counter[str]]:
        """The counts, beside the call figures, in the results."""
        return {"connect_failures": self.connect_failures, "disconnects": self.disconnects,
                "lost_calls": self.lost_calls, "unexpected": self.unexpected,
                "malformed": self.malformed, "boot_retries": self.boot_retries,
                "sent": self.sent}
