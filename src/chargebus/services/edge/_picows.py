"""The one module of the edge that reaches past picows' public API: its protocol class,
made here as picows.ws_create_server makes it, and its parser of an upgrade request.

pyproject.toml holds picows below its next minor version, and tests/test_picows.py is this
module's contract: it compares WSProtocol's constructor, as the picows.pyx shipped in the
wheel declares it, with the arguments passed here, and runs both against picows itself.
The arguments go by name, so a picows that reorders them still gets each where it belongs,
and one that renames or adds one fails that test.
"""
import asyncio
import logging
from collections.abc import Callable

from picows import WSAutoPingStrategy, WSListener, WSUpgradeRequest, WSUpgradeResponseWithListener
# picows' stub (picows.pyi) declares neither.
from picows.picows import WSProtocol, _parse_http_request  # type: ignore[attr-defined]

ListenerFactory = Callable[[WSUpgradeRequest], WSListener | WSUpgradeResponseWithListener | None]


def server_protocol(listener_factory: ListenerFactory, *,
                    logger: logging.Logger | logging.LoggerAdapter, handshake_timeout: float,
                    max_frame_size: int, read_buffer_size: int) -> asyncio.BufferedProtocol:
    """picows' protocol for one station's socket; the edge pings idle stations itself
    (Liveness), so picows' own pinging stays off."""
    return WSProtocol(
        host_port=None, ws_path=None, is_client_side=False,
        ws_listener_factory=listener_factory, logger=logger,
        disconnect_on_exception=True,
        websocket_handshake_timeout=handshake_timeout,
        enable_auto_ping=False, auto_ping_idle_timeout=10.0, auto_ping_reply_timeout=10.0,
        auto_ping_strategy=WSAutoPingStrategy.PING_WHEN_IDLE,
        enable_auto_pong=True,
        max_frame_size=max_frame_size,
        extra_headers=None,  # the listener's answer carries them
        read_buffer_init_size=read_buffer_size)


def parse_request_head(head: bytes) -> WSUpgradeRequest:
    """An upgrade request's head (without its closing blank line) as picows' server
    reads it; RuntimeError for one that picows refuses."""
    request: WSUpgradeRequest = _parse_http_request(head)
    return request
