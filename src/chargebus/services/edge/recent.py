"""The answers an edge sent a station lately, by the unique id of the call they answer.

A station that did not get an answer (the socket dropped, the answer was lost) sends
the same call again with the same unique id; it gets the answer it missed instead of a
second processing. A call is the same only if its frame is the same: a station that
restarted its id counter reuses ids for new calls, and those are processed.
"""
import time

MAX_REMEMBERED = 32
REMEMBER_SECONDS = 600.0


class RecentAnswers:
    """Oldest first (a dict keeps the order things were put in); the dict is made with
    the first answer."""

    __slots__ = ("_size", "_seconds", "_answers")

    def __init__(self, size: int = MAX_REMEMBERED, seconds: float = REMEMBER_SECONDS):
        self._size = size
        self._seconds = seconds
        self._answers: dict[str, tuple[int, bytes, float]] | None = None

    def remember(self, unique_id: str, fingerprint: int, answer: bytes) -> None:
        if self._answers is None:
            self._answers = {}
        answers = self._answers
        answers.pop(unique_id, None)  # to the end: the newest
        answers[unique_id] = (fingerprint, answer, time.monotonic() + self._seconds)
        while len(answers) > self._size:
            del answers[next(iter(answers))]

    def answer_to(self, unique_id: str, fingerprint: int) -> bytes | None:
        """The answer already sent to this very call, if it is recent."""
        remembered = self._answers.get(unique_id) if self._answers is not None else None
        if remembered is None:
            return None
        known_fingerprint, answer, expires = remembered
        if known_fingerprint != fingerprint or expires < time.monotonic():
            return None
        return answer

    def adopt(self, older: "RecentAnswers") -> None:
        """Keep what an earlier connection of the same station answered."""
        if older._answers is None:
            return
        if self._answers is None:
            self._answers = {}
        for unique_id, remembered in older._answers.items():
            self._answers.setdefault(unique_id, remembered)
