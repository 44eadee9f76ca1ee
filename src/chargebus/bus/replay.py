"""Read a stream's messages as they are now, in order, through one ordered consumer: a
bucket's latest value per key, or a log from a time on. One consumer streams them at
the rate of the connection, where a get per key costs a round trip each (100,000
stations' records: benchmarks/fleet.py)."""
from collections.abc import AsyncIterator
from datetime import datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

# A message that does not come this long after the last, although the consumer said
# more were pending, is taken as gone (the stream's limits dropped it meanwhile).
IDLE_SECONDS = 2.0


async def replay(js: JetStreamContext, stream: str, filter_subject: str, *,
                 latest_per_subject: bool = False, since: datetime | None = None
                 ) -> AsyncIterator[Msg]:
    """The stream's messages on ``filter_subject``, oldest first: every one, those from
    ``since`` on, or the last of each subject; ends once it has them all. The stream is
    named: looking it up by subject is a right no service has."""
    if latest_per_subject:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT)
    elif since is not None:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since)
    else:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    subscription = await js.subscribe(filter_subject, stream=stream, ordered_consumer=True,
                                      config=config)
    try:
        info = await subscription.consumer_info()
        # Those pushed to us already no longer count as pending: both say whether any came.
        pending = (info.num_pending or 0) + (info.delivered.consumer_seq or 0
                                             if info.delivered else 0)
        while pending:
            try:
                msg = await subscription.next_msg(timeout=IDLE_SECONDS)
            except TimeoutError:
                return
            yield msg
            pending = msg.metadata.num_pending
    finally:
        await subscription.unsubscribe()
