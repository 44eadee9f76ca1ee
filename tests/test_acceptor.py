"""The edge's acceptor on uvloop, as the edge runs it: connections that are waiting are
taken in one wakeup, running out of file descriptors pauses accepting rather than losing
the stations, and a closed acceptor takes no more."""
import asyncio
import resource
import socket

import pytest
import uvloop

from chargebus_services.edge import acceptor as acceptor_module
from chargebus_services.edge.acceptor import Acceptor

WAITING = 100


class Counted(asyncio.Protocol):
    made: list["Counted"] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.made.append(self)


def made() -> list[Counted]:
    Counted.made = []
    return Counted.made


def connect_clients(port: int, count: int) -> list[socket.socket]:
    # Blocking connects: each returns once the kernel has queued the connection for
    # accept(), before the event loop has had a turn to take any of them.
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]


async def listening() -> tuple[Acceptor, int]:
    acceptor = Acceptor(Counted, tls=None, tls_handshake_timeout=10.0)
    await acceptor.listen("127.0.0.1", 0, 4096)
    return acceptor, acceptor.sockets[0].getsockname()[1]


def close_all(acceptor: Acceptor, clients: list[socket.socket],
              connections: list[Counted]) -> None:
    acceptor.close()
    for client in clients:
        client.close()
    for connection in connections:
        connection.transport.close()


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def test_connections_waiting_are_taken_in_one_wakeup():
    async def scenario():
        connections = made()
        acceptor, port = await listening()
        clients = connect_clients(port, WAITING)
        # One turn to accept them all and start each socket's task, one for the tasks,
        # one for the transports' connection_made: not one turn per connection.
        await turns(3)
        accepted = len(connections)
        close_all(acceptor, clients, connections)
        return accepted

    assert uvloop.run(scenario()) == WAITING


def test_out_of_file_descriptors_pauses_and_then_takes_every_station(monkeypatch):
    monkeypatch.setattr(acceptor_module, "RESOURCE_PAUSE_SECONDS", 0.2)

    async def scenario():
        connections = made()
        acceptor, port = await listening()
        clients = connect_clients(port, 20)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        highest = max(client.fileno() for client in clients)
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
        try:
            await turns(5)
            refused_while_full = len(connections)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        deadline = asyncio.get_running_loop().time() + 5.0
        while len(connections) < len(clients) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        accepted = len(connections)
        close_all(acceptor, clients, connections)
        return refused_while_full, accepted

    refused_while_full, accepted = uvloop.run(scenario())
    assert refused_while_full == 0
    assert accepted == 20


def test_a_closed_acceptor_takes_no_more_connections():
    async def scenario():
        acceptor, port = await listening()
        acceptor.close()
        assert acceptor.sockets == []
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port))

    uvloop.run(scenario())


def test_an_address_in_use_is_a_clear_error():
    async def scenario():
        first, port = await listening()
        try:
            second = Acceptor(Counted, tls=None, tls_handshake_timeout=10.0)
            refusal = f"cannot listen for stations on 127.0.0.1 port {port}: .*in use"
            with pytest.raises(OSError, match=refusal):
                await second.listen("127.0.0.1", port, 16)
            assert second.sockets == []
        finally:
            first.close()

    uvloop.run(scenario())
