"""How fast a station may call: a token bucket per connection.

A station over its rate is not read until its bucket has refilled for the calls it
made over it: TCP holds what it sends meanwhile, so it is slowed down, never answered
with an error, and nothing it sent is dropped; other stations are read as before.
"""

# Timers fire on whole milliseconds: a wait shorter than one is no wait.
TIMER_RESOLUTION = 0.001


class CallRate:
    """``burst`` tokens, refilled at ``per_second``; a call takes one.

    A station's bucket is one number, the time at which it is full again (the generic
    cell rate algorithm, a token bucket without a count to refill): each call moves it
    on by one token's worth of time. A call that finds the bucket empty was read
    already, and is taken on credit: the station is not read again until the bucket
    has refilled for it, so that over time it calls at ``per_second`` at most.
    """

    __slots__ = ("_per_call", "_burst_time")

    def __init__(self, per_second: float, burst: int):
        self._per_call = 1.0 / per_second
        self._burst_time = burst * self._per_call

    def after_call(self, full_at: float, now: float) -> float:
        """When the bucket is full again, after a call at ``now``."""
        return max(full_at, now) + self._per_call

    def wait(self, full_at: float, now: float) -> float:
        """The seconds until the calls taken are paid for: 0 when they are."""
        wait = full_at - self._burst_time - now
        return wait if wait >= TIMER_RESOLUTION else 0.0
