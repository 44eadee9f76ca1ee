"""The edge logs stations coming and going as one INFO line a while."""
import asyncio
import logging

from chargebus.services.edge.turnover import Turnover


def test_one_line_for_what_came_and_went_and_none_when_nothing_did(caplog):
    async def scenario():
        connected = [0]
        turnover = Turnover(lambda: connected[0], report_seconds=0.05)
        turnover.start()
        turnover.came += 3
        turnover.went += 1
        connected[0] = 2
        await asyncio.sleep(0.3)  # several reports due; only the first has news
        turnover.went += 2
        connected[0] = 0
        turnover.stop()
        await asyncio.sleep(0.1)  # stopped: no more reports

    with caplog.at_level(logging.INFO, logger="chargebus.services.edge"):
        asyncio.run(scenario())
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("2 stations connected (3 came, 1 went in the last ")
    assert lines[1].startswith("0 stations connected (0 came, 2 went in the last ")
