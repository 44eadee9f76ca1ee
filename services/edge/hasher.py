"""The edge's password hasher, a process of its own (see password_checks): a line in,
the password and the stored hash it is checked against, each in base64; a line out,
1 for the right password, 0 for a wrong one. It exits when its input ends, as it does
when the edge exits, however it exits."""
import base64
import signal
import sys

from chargebus.passwords import verify_password

RIGHT, WRONG = b"1\n", b"0\n"


def request(password: str, stored: str) -> bytes:
    return (base64.b64encode(password.encode()) + b" "
            + base64.b64encode(stored.encode()) + b"\n")


def answer(line: bytes) -> bool:
    return line == RIGHT


def main() -> None:
    # Ctrl-C reaches the whole process group; the edge's exit ends this one's input.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        password, _, stored = line.partition(b" ")
        try:
            right = verify_password(base64.b64decode(password).decode(),
                                    base64.b64decode(stored).decode())
        except ValueError:  # not base64 or not UTF-8: not from the edge
            right = False
        sys.stdout.buffer.write(RIGHT if right else WRONG)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
