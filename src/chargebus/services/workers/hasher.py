"""The workers' password hasher, a process of its own (see password_checks): a line in,
the password, the stored hash and the pending one (empty where none), each in base64;
a line out, the chargebus.security.passwords.Match of the password as a digit. It exits when its
input ends, as it does when the worker exits, however it exits."""
import base64
import signal
import sys

from chargebus.security.passwords import Match, verify_password


def request(password: str, stored: str, pending: str | None) -> bytes:
    return b" ".join(base64.b64encode(part.encode())
                     for part in (password, stored, pending or "")) + b"\n"


def answer(line: bytes) -> Match:
    try:
        return Match(int(line))
    except ValueError:
        return Match.WRONG


def main() -> None:
    # Ctrl-C reaches the whole process group; the worker's exit ends this one's input.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        try:
            password, stored, pending = (base64.b64decode(part).decode()
                                         for part in line.split(b" "))
            match = verify_password(password, stored, pending or None)
        except ValueError:  # not three parts, not base64 or not UTF-8: not from the worker
            match = Match.WRONG
        sys.stdout.buffer.write(b"%d\n" % match)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
