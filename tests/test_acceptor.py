"""The edge's acceptor on uvloop, as the edge runs it: connections that are waiting are
taken in one wakeup, at the limit of open files waiting stations are turned away at
once rather than left in the backlog, and a closed acceptor takes no more."""
import asyncio
import resource
import socket
from typing import ClassVar

import pytest
import uvloop

from chargebus.services.edge.acceptor import OUT_OF_FILES_REASON, Acceptor

WAITING = 100


class Counted(asyncio.Protocol):
    made: ClassVar[list["Counted"]] = []

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


def unrefused(reason: str) -> None:
    pytest.fail(f"refused a connection: {reason}")


async def listening(refused=unrefused) -> tuple[Acceptor, int]:
    acceptor = Acceptor(Counted, tls=None, tls_handshake_timeout=10.0, refused=refused)
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


def test_at_the_limit_of_open_files_waiting_stations_are_turned_away_at_once():
    async def scenario():
        connections, refusals = made(), []
        acceptor, port = await listening(refusals.append)
        clients = connect_clients(port, 20)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        highest = max(client.fileno() for client in clients)
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
        try:
            await turns(5)
            taken_at_the_limit = len(connections)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        answers = []
        for client in clients:
            client.settimeout(5.0)
            answers.append(client.recv(4096))
        later = connect_clients(port, 1)
        await turns(3)
        taken_after = len(connections)
        close_all(acceptor, clients + later, connections)
        return taken_at_the_limit, refusals, answers, taken_after

    taken_at_the_limit, refusals, answers, taken_after = uvloop.run(scenario())
    assert taken_at_the_limit == 0
    assert refusals == [OUT_OF_FILES_REASON] * 20
    assert all(answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") for answer in answers)
    assert taken_after == 1  # under the limit again, stations are taken


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
            second = Acceptor(Counted, tls=None, tls_handshake_timeout=10.0, refused=unrefused)
            refusal = f"cannot listen for stations on 127.0.0.1 port {port}: .*in use"
            with pytest.raises(OSError, match=refusal):
                await second.listen("127.0.0.1", port, 16)
            assert second.sockets == []
        finally:
            first.close()

    uvloop.run(scenario())
