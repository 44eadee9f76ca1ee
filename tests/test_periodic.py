"""A service's periodic work (the edge's liveness sweep, the workers' certificate watch
and stale-transaction sweep): a round that fails is logged under the work's own logger,
and the next round comes."""
import asyncio
import logging

import pytest

from chargebus.runtime.periodic import Periodic


async def test_a_failed_round_is_logged_and_the_next_one_comes_until_stopped(
        caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    second_round = asyncio.Event()

    async def work() -> None:
        rounds.append(len(rounds) + 1)
        if len(rounds) == 1:
            raise RuntimeError("the first round fails")
        second_round.set()

    log = logging.getLogger("chargebus.services.workers.certificates")
    periodic = Periodic(0.01, work, "the certificate expiry watch", log)
    with caplog.at_level(logging.ERROR, logger=log.name):
        periodic.start()
        await asyncio.wait_for(second_round.wait(), 30)
        periodic.stop()
        done = len(rounds)
        await asyncio.sleep(0.1)  # ten intervals: none comes once stopped
    assert done >= 2 and len(rounds) == done
    failures = [record for record in caplog.records if record.name == log.name]
    assert [record.getMessage() for record in failures] == [
        "the certificate expiry watch failed; trying again later"]
    assert str(failures[0].exc_info[1]) == "the first round fails"
