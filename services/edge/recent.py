"""The answers an edge sent a station lately, by the unique id of the call they answer.

A station that did not get an answer (the socket dropped, the answer was lost) sends
the same call again with the same unique id; it gets the answer it missed instead of a
second processing. A call is the same only if its frame is the same: a station that
restarted its id counter reuses ids for new calls, and those are processed.
"""
import time
from collections import OrderedDict

MAX_REMEMBERED = 32
REMEMBER_SECONDS = 600.0


class RecentAnswers:
    def __init__(self, size: int = MAX_REMEMBERED, seconds: float = REMEMBER_SECONDS):
        self._size = size
        self._seconds = seconds
        self._answers: OrderedDict[str, tuple[int, bytes, float]] = OrderedDict()

    def remember(self, unique_id: str, fingerprint: int, answer: bytes) -> None:
        self._answers[unique_id] = (fingerprint, answer, time.monotonic() + self._seconds)
        self._answers.move_to_end(unique_id)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)

    def answer_to(self, unique_id: str, fingerprint: int) -> bytes | None:
        """The answer already sent to this very call, if it is recent."""
        remembered = self._answers.get(unique_id)
        if remembered is None:
            return None
        known_fingerprint, answer, expires = remembered
        if known_fingerprint != fingerprint or expires < time.monotonic():
            return None
        return answer

    def adopt(self, older: "RecentAnswers") -> None:
        """Keep what an earlier connection of the same station answered."""
        for unique_id, remembered in older._answers.items():
            self._answers.setdefault(unique_id, remembered)
