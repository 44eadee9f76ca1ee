"""Password checks in the workers' hasher processes: right and wrong, a rotation's
pending password told from the current one by one scrypt, busy past the queue, and a
hasher that dies is replaced."""
import asyncio
import os
import signal

import pytest

from conftest import alive, descendants
from chargebus.security.passwords import Match, hash_password, hash_pending
from chargebus.services.workers.password_checks import ChecksBusy, PasswordChecks

PASSWORD = "hasher-password-0123456789"
STORED = hash_password(PASSWORD)
NEW_PASSWORD = "rotated-password-0123456789"
PENDING = hash_pending(NEW_PASSWORD, STORED)


def hashers() -> list[int]:
    """The hashers this process started (not those of a system other tests run)."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as command:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                if parent == os.getpid() and b"chargebus.services.workers.hasher" in command.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_right_and_wrong_passwords_and_no_hasher_left_after_stop():
    async def scenario():
        checks = PasswordChecks(2, 8)
        await checks.start()
        started = hashers()
        answers = await asyncio.gather(*(checks.verify(password, STORED) for password in (
            PASSWORD, PASSWORD + "x", "", "ünïcödé-password-123", PASSWORD)))
        await checks.stop()
        return started, answers

    started, answers = asyncio.run(scenario())
    assert len(started) == 2
    assert answers == [Match.CURRENT, Match.WRONG, Match.WRONG, Match.WRONG, Match.CURRENT]
    assert [pid for pid in started if alive(pid)] == []


def test_a_pending_password_is_told_from_the_current_one():
    async def scenario():
        checks = PasswordChecks(1, 8)
        await checks.start()
        answers = [await checks.verify(password, STORED, PENDING)
                   for password in (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")]
        await checks.stop()
        return answers

    assert PENDING.rpartition("$")[0] == STORED.rpartition("$")[0]  # the same salt
    assert asyncio.run(scenario()) == [Match.CURRENT, Match.PENDING, Match.WRONG]


def test_checks_past_the_queue_are_busy_at_once():
    async def scenario():
        checks = PasswordChecks(1, 2)
        await checks.start()
        under_way = [asyncio.ensure_future(checks.verify(PASSWORD, STORED)) for _ in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(ChecksBusy):
            await checks.verify(PASSWORD, STORED)
        answers = await asyncio.gather(*under_way)
        await checks.stop()
        return answers

    assert asyncio.run(scenario()) == [Match.CURRENT] * 3


def test_a_hasher_that_dies_is_replaced():
    async def scenario():
        checks = PasswordChecks(1, 8)
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
    assert right is Match.CURRENT and len(replaced) == 1 and replaced != [first]
