"""What a WebSocket close frame may carry on the wire (RFC 6455 sections 5.5 and 7.4).

picows sends whatever code it is given, and reports a close frame without a code as
code 0 (its NO_INFO), which it accepts from a peer as it does 1006 and anything from
3000 up: echoed, those made close frames that Node's `ws` and other clients refuse
(WS_ERR_INVALID_CLOSE_CODE), reporting 1006 instead of the close.
"""
from picows import WSCloseCode, WSFrame, WSTransport

# A control frame carries at most 125 bytes, and the code takes two of them.
MAX_REASON_BYTES = 123


def sendable(code: int) -> bool:
    """Whether an endpoint may send this code: 1000-1014 less the three that only
    report what happened (1004 reserved, 1005 no code, 1006 no close frame), and the
    ranges of libraries and applications, 3000-4999."""
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999


def reason_bytes(reason: str) -> bytes:
    """The reason in UTF-8, cut short at a whole character where it would not fit."""
    encoded = reason.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return encoded
    return encoded[:MAX_REASON_BYTES].decode("utf-8", "ignore").encode()


def send_close(transport: WSTransport, code: WSCloseCode, reason: str = "") -> None:
    # .value: picows' stub types WSCloseCode an Enum; it is an IntEnum taking any code.
    if not sendable(code.value):
        raise ValueError(f"close code {code.value} may not be sent (RFC 6455 section 7.4)")
    transport.send_close(code, reason_bytes(reason))


def answer_close(transport: WSTransport, frame: WSFrame) -> None:
    """Answer the peer's close frame, as section 5.5.1 asks: its code echoed, a close
    without a code with a normal one (1000), a code no one may send as the protocol
    error it is (1002)."""
    if frame.payload_size < 2:
        send_close(transport, WSCloseCode.OK)
        return
    code = frame.get_close_code()
    if sendable(code.value):
        send_close(transport, code)
    else:
        send_close(transport, WSCloseCode.PROTOCOL_ERROR,
                   f"close code {code.value} is not allowed")
