"""Password checks in the edge's hasher processes: right and wrong, busy past the
queue, and a hasher that dies is replaced."""
import asyncio
import os
import signal

import pytest

from conftest import alive, descendants
from chargebus.passwords import hash_password
from chargebus_services.edge.metrics import EdgeMetrics
from chargebus_services.edge.password_checks import ChecksBusy, PasswordChecks

PASSWORD = "hasher-password-0123456789"
STORED = hash_password(PASSWORD)


def hashers() -> list[int]:
    found = []
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"chargebus_services.edge.hasher" in handle.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_right_and_wrong_passwords_and_no_hasher_left_after_stop():
    async def scenario():
        checks = PasswordChecks(2, 8, EdgeMetrics())
        await checks.start()
        started = hashers()
        answers = await asyncio.gather(*(checks.verify(password, STORED) for password in (
            PASSWORD, PASSWORD + "x", "", "ünïcödé-password-123", PASSWORD)))
        await checks.stop()
        return started, answers

    started, answers = asyncio.run(scenario())
    assert len(started) == 2
    assert answers == [True, False, False, False, True]
    assert [pid for pid in started if alive(pid)] == []


def test_checks_past_the_queue_are_busy_at_once():
    async def scenario():
        checks = PasswordChecks(1, 2, EdgeMetrics())
        await checks.start()
        under_way = [asyncio.ensure_future(checks.verify(PASSWORD, STORED)) for _ in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(ChecksBusy):
            await checks.verify(PASSWORD, STORED)
        answers = await asyncio.gather(*under_way)
        await checks.stop()
        return answers

    assert asyncio.run(scenario()) == [True] * 3


def test_a_hasher_that_dies_is_replaced():
    async def scenario():
        checks = PasswordChecks(1, 8, EdgeMetrics())
        await checks.start()
        [first] = hashers()
        os.kill(first, signal.SIGSTOP)  # so that the check is still under way when it dies
        checking = asyncio.ensure_future(checks.verify(PASSWORD, STORED))
        await asyncio.sleep(0.1)
        os.kill(first, signal.SIGKILL)
        with pytest.raises(ChecksBusy):
            await checking
        right = await asyncio.wait_for(checks.verify(PASSWORD, STORED), 30)
        replaced = hashers()
        await checks.stop()
        return first, replaced, right

    first, replaced, right = asyncio.run(scenario())
    assert right and len(replaced) == 1 and replaced != [first]
