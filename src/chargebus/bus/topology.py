"""The JetStream streams and KV buckets chargebus runs on, and bringing them about."""
from nats import errors
from nats.js import JetStreamContext
from nats.js.api import (DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType,
                         StreamConfig)
from nats.js.errors import BadRequestError, NotFoundError

from chargebus.bus import subjects

DAY = 24 * 3600

STREAMS = (
    StreamConfig(
        name=subjects.OCPP_STREAM,
        subjects=[subjects.all_station_events()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=7 * DAY,
        duplicate_window=120,
    ),
    # Only the sequence matters: each publish allocates the next transaction id.
    StreamConfig(
        name=subjects.TRANSACTION_ID_STREAM,
        subjects=[subjects.transaction_id_counter()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_msgs_per_subject=1,
        discard=DiscardPolicy.OLD,
        duplicate_window=3600,  # a station repeating a start within an hour gets its id again
    ),
    # Finished transactions on their way to ClickHouse; one message per version of a
    # session, deduplicated by it.
    StreamConfig(
        name=subjects.SESSION_STREAM,
        subjects=[subjects.all_sessions()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=30 * DAY,
        duplicate_window=3600,
    ),
    # The audit trail of CSMS-to-station calls: kept here for the command line and
    # for the sink, which copies it into ClickHouse for as long as the operator keeps that.
    StreamConfig(
        name=subjects.COMMAND_STREAM,
        subjects=[subjects.command_records()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=90 * DAY,
        duplicate_window=120,
    ),
    # What API keys changed (tokens, sites, webhooks ...), kept as long as the calls.
    StreamConfig(
        name=subjects.CHANGE_STREAM,
        subjects=[subjects.change_records()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=90 * DAY,
        duplicate_window=120,
    ),
    # Kept a week: a client of the feed, or a webhook's receiver, that comes back within
    # it gets every event it missed.
    StreamConfig(
        name=subjects.FEED_STREAM,
        subjects=[subjects.feed_events()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=7 * DAY,
        duplicate_window=600,
    ),
    StreamConfig(
        name=subjects.DEAD_LETTER_STREAM,
        subjects=[subjects.all_dead_letters()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=30 * DAY,
    ),
)

BUCKETS = (
    KeyValueConfig(bucket=subjects.STATIONS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.STATUSES_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.TOKENS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.TRANSACTIONS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.PRESENCE_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.ACCESS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.ADMISSION_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.LOCAL_LISTS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.CERTIFICATES_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.RESERVATIONS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.DEVICE_MODEL_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.LAST_HEARD_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.CHARGING_PROFILES_BUCKET, history=1,
                   storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.SITES_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.FIRMWARE_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.ROLLOUTS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.DISPLAY_MESSAGES_BUCKET, history=1,
                   storage=StorageType.FILE),
    # Personal data is kept no longer than an operator needs to hand it over.
    KeyValueConfig(bucket=subjects.CUSTOMERS_BUCKET, history=1, storage=StorageType.FILE,
                   ttl=30 * DAY),
    # A grant outlives its URL by a while, so that a late station is told its URL
    # expired rather than that it never was.
    KeyValueConfig(bucket=subjects.FILE_GRANTS_BUCKET, history=1, storage=StorageType.FILE,
                   ttl=30 * DAY),
    KeyValueConfig(bucket=subjects.FILES_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.STATION_LOGS_BUCKET, history=1, storage=StorageType.FILE),
    KeyValueConfig(bucket=subjects.API_KEYS_BUCKET, history=1, storage=StorageType.FILE),
    # Each webhook's secret is kept as it is: signing needs it.
    KeyValueConfig(bucket=subjects.WEBHOOKS_BUCKET, history=1, storage=StorageType.FILE),
    # A command polled for long after it ended is in the audit trail.
    KeyValueConfig(bucket=subjects.API_COMMANDS_BUCKET, history=1, storage=StorageType.FILE,
                   ttl=DAY),
)


# Every stream by name: ours (each config above names one; nats-py types the name
# optional) and those behind the buckets.
STREAM_NAMES: tuple[str, ...] = (
    *(stream.name for stream in STREAMS if stream.name is not None),
    *(subjects.kv_stream(bucket.bucket) for bucket in BUCKETS))


class TopologyMissing(Exception):
    """A stream or bucket is not there, and this identity may not create it."""


async def require_topology(js: JetStreamContext) -> None:
    """Check the streams and buckets are there, and create those that are not where this
    identity may (a nats-server without authorization); a service is not given the
    right to create or change them: the operator does that (chargebus setup)."""
    missing = []
    for name in STREAM_NAMES:
        try:
            await js.stream_info(name)
        except NotFoundError:
            missing.append(name)
    if not missing:
        return
    try:
        await ensure_topology(js)
    except errors.TimeoutError:  # refused: nats-server answers no request it does not pass on
        raise TopologyMissing(", ".join(missing)) from None


async def ensure_topology(js: JetStreamContext) -> None:
    """Create the streams and buckets, or bring existing ones to this configuration."""
    for config in STREAMS:
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
    for bucket in BUCKETS:
        await js.create_key_value(bucket)
