"""What each NATS identity of chargebus may publish and subscribe to: least privilege.

nats-server allows an identity only the subjects listed here (chargebus.security.credentials
writes them into its authorization block); anything else is refused and logged as a
"Permissions Violation". Every identity subscribes to its own inbox only
(subjects.inbox_prefix of its public key), so no identity reads another's replies.
Answering a request (publishing on the reply subject it came with) is allowed by
``responses``, never by naming other identities' inboxes.

Who may do what:
    operator   everything: the CLI and the supervisor, which create the streams and buckets
    workers    answer the station calls, run their consumers of recorded calls, write
               the state buckets, send calls to stations (and record those no edge
               took), ask the CA to sign
    sink       its consumers of meter calls, station events, sessions and the audit
               trail, answers
               read-only SQL
    files      the file service: reads the grants its URLs open, records the files it
               receives
    api        the HTTP API: what the command line does for an operator, but making
               streams, buckets and NATS identities; it reads the fleet, the keys and the
               trails, writes what operations and tokens change, sends calls to stations
               and asks the sink for meter data

A durable consumer is its service's alone: no other identity may pull from it or
acknowledge its messages.
    edge       one per node id: records its stations' calls, asks the workers, keeps
               presence, serves only its own command subject and records those calls
               in the audit trail
    ca         an external CA integration: answers signing requests
    data-transfer  a vendor's integration: answers stations' DataTransfers
"""
from dataclasses import dataclass
from enum import Enum

from chargebus.bus import subjects
from chargebus.bus.topology import STREAM_NAMES
from chargebus.domain.firmware import STATUS_ACTIONS as FIRMWARE_STATUS_ACTIONS
from chargebus.domain.loadmanagement import EVENT_ACTIONS as LOAD_MANAGER_ACTIONS
from chargebus.domain.sessions import TRANSACTION_ACTIONS
from chargebus.domain.stationlogs import STATUS_ACTIONS as LOG_STATUS_ACTIONS
from chargebus.meter.calls import meter_action_names
from chargebus.meter.stationevents import event_action_names


class Role(str, Enum):
    OPERATOR = "operator"
    WORKERS = "workers"
    SINK = "sink"
    FILES = "files"
    API = "api"
    EDGE = "edge"
    CA = "ca"
    DATA_TRANSFER = "data-transfer"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # Replies to each request it receives: 1, or -1 for any number (the sink answers a
    # query in as many replies as the answer takes, chargebus.bus.queryreplies); None: none
    # but what ``publish`` allows.
    responses: int | None = 1


# Every service checks at start that the streams and buckets exist (bus.require_topology).
_TOPOLOGY_CHECK = tuple(subjects.stream_info(name) for name in STREAM_NAMES)


def _kv_read(bucket: str) -> tuple[str, ...]:
    """Get keys, list them and watch the bucket."""
    stream = subjects.kv_stream(bucket)
    return (*subjects.stream_messages_get(stream), *subjects.watch_api(stream),
            subjects.flow_control(stream))


def _kv_write(bucket: str) -> tuple[str, ...]:
    return (*_kv_read(bucket), subjects.kv_keys(bucket))


def _stream_read(stream: str) -> tuple[str, ...]:
    """Read a stream through an ordered consumer of its own (bus.replay)."""
    return (*subjects.watch_api(stream), subjects.flow_control(stream))


def _durable_consumers(stream: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Its own consumers of the stream: no other identity's, whose messages it could
    otherwise take or acknowledge."""
    return tuple(subject for name in names
                 for subject in subjects.durable_consumer_api(stream, name))


_WORKER_CONSUMERS = (subjects.STATUS_CONSUMER, subjects.RESERVATION_CONSUMER,
                     subjects.DEVICE_MODEL_CONSUMER, subjects.CHARGING_PROFILES_CONSUMER,
                     subjects.DISPLAY_MESSAGES_CONSUMER, subjects.CUSTOMERS_CONSUMER,
                     subjects.action_consumer(subjects.DEVICE_MODEL_CONSUMER,
                                              "NotifyMonitoringReport"),
                     subjects.action_consumer(subjects.DEVICE_MODEL_CONSUMER, "NotifyEvent"), *(
    subjects.action_consumer(subjects.TRANSACTION_CONSUMER, action)
    for action in TRANSACTION_ACTIONS), *(
    subjects.action_consumer(subjects.LOAD_MANAGER_CONSUMER, action)
    for action in LOAD_MANAGER_ACTIONS), *(
    subjects.action_consumer(subjects.FIRMWARE_CONSUMER, action)
    for action in FIRMWARE_STATUS_ACTIONS), *(
    subjects.action_consumer(subjects.LOGS_CONSUMER, action)
    for action in LOG_STATUS_ACTIONS))
_SINK_CONSUMERS = (*(subjects.action_consumer(subjects.METER_SINK_CONSUMER, action)
                     for action in meter_action_names()),
                   *(subjects.action_consumer(subjects.EVENT_SINK_CONSUMER, action)
                     for action in event_action_names()))


_FEED_PRESENCE, _FEED_STATUSES, _FEED_COMMANDS, _FEED_SECURITY = subjects.FEED_CONSUMERS

# The API reads the fleet and the keys, and writes what the operations it performs keep
# (chargebus.operations.keeping) and what tokens and commands change.
_API_READS = (subjects.STATIONS_BUCKET, subjects.STATUSES_BUCKET, subjects.PRESENCE_BUCKET,
              subjects.LAST_HEARD_BUCKET, subjects.ADMISSION_BUCKET, subjects.API_KEYS_BUCKET,
              subjects.FILES_BUCKET)
_API_WRITES = (subjects.TOKENS_BUCKET, subjects.TRANSACTIONS_BUCKET,
               subjects.RESERVATIONS_BUCKET, subjects.DEVICE_MODEL_BUCKET,
               subjects.CHARGING_PROFILES_BUCKET, subjects.FIRMWARE_BUCKET,
               subjects.DISPLAY_MESSAGES_BUCKET, subjects.CUSTOMERS_BUCKET,
               subjects.STATION_LOGS_BUCKET, subjects.FILE_GRANTS_BUCKET,
               subjects.API_COMMANDS_BUCKET, subjects.WEBHOOKS_BUCKET, subjects.ROLLOUTS_BUCKET,
               subjects.SITES_BUCKET, subjects.LOCAL_LISTS_BUCKET)


def permissions(role: Role, identity_key: str, node_id: str | None = None) -> Permissions:
    """The permissions of the identity with this public key; ``node_id`` for an edge."""
    inbox = subjects.inboxes(subjects.inbox_prefix(identity_key))
    if role is Role.OPERATOR:
        return Permissions(publish=(subjects.everything(),), subscribe=(subjects.everything(),),
                           responses=None)
    if role is Role.WORKERS:
        return Permissions(
            publish=(
                *_TOPOLOGY_CHECK, subjects.service_ready(role.value),
                *_durable_consumers(subjects.OCPP_STREAM, _WORKER_CONSUMERS),
                *_kv_write(subjects.STATIONS_BUCKET), *_kv_write(subjects.STATUSES_BUCKET),
                *_kv_write(subjects.TOKENS_BUCKET), *_kv_write(subjects.TRANSACTIONS_BUCKET),
                *_kv_write(subjects.ACCESS_BUCKET), *_kv_write(subjects.ADMISSION_BUCKET),
                *_kv_write(subjects.LOCAL_LISTS_BUCKET), *_kv_write(subjects.CERTIFICATES_BUCKET),
                *_kv_write(subjects.RESERVATIONS_BUCKET), *_kv_write(subjects.DEVICE_MODEL_BUCKET),
                *_kv_write(subjects.CHARGING_PROFILES_BUCKET), *_kv_write(subjects.SITES_BUCKET),
                *_kv_write(subjects.FIRMWARE_BUCKET), *_kv_write(subjects.ROLLOUTS_BUCKET),
                *_kv_write(subjects.DISPLAY_MESSAGES_BUCKET), *_kv_write(subjects.CUSTOMERS_BUCKET),
                *_kv_write(subjects.STATION_LOGS_BUCKET),
                # A roll-out of an image chargebus holds: a URL of its own per station.
                *_kv_write(subjects.FILE_GRANTS_BUCKET), *_kv_read(subjects.FILES_BUCKET),
                *_kv_read(subjects.PRESENCE_BUCKET),
                # A station's certificate is signed only where its edge proved its id:
                # the workers ask that edge which security profile it runs.
                subjects.any_edge_about(),
                subjects.all_sessions(), subjects.transaction_id_counter(),
                subjects.dead_letter(subjects.STATUS_CONSUMER),
                subjects.dead_letter(subjects.RESERVATION_CONSUMER),
                subjects.dead_letter(subjects.DEVICE_MODEL_CONSUMER),
                subjects.dead_letter(subjects.CHARGING_PROFILES_CONSUMER),
                subjects.dead_letter(subjects.LOAD_MANAGER_CONSUMER),
                subjects.dead_letter(subjects.FIRMWARE_CONSUMER),
                subjects.dead_letter(subjects.DISPLAY_MESSAGES_CONSUMER),
                subjects.dead_letter(subjects.CUSTOMERS_CONSUMER),
                subjects.dead_letter(subjects.LOGS_CONSUMER),
                subjects.dead_letter(subjects.TRANSACTION_CONSUMER),
                subjects.all_station_commands(), subjects.command_records(),
                subjects.certificate_signing(),
                # The feed: made from its sources, delivered to webhooks.
                *_durable_consumers(subjects.kv_stream(subjects.PRESENCE_BUCKET),
                                    (_FEED_PRESENCE,)),
                *_durable_consumers(subjects.OCPP_STREAM, (_FEED_STATUSES, _FEED_SECURITY)),
                *_durable_consumers(subjects.COMMAND_STREAM, (_FEED_COMMANDS,)),
                *(subjects.dead_letter(name) for name in subjects.FEED_CONSUMERS),
                subjects.feed_events(), subjects.stream_info(subjects.FEED_STREAM),
                *_kv_read(subjects.WEBHOOKS_BUCKET),
                # A consumer of the feed per webhook, named by its id: any name of the
                # feed's consumers, as a subject token cannot be matched in part.
                *_durable_consumers(subjects.FEED_STREAM, (subjects.any_consumer(),)),
                subjects.consumer_delete(subjects.FEED_STREAM, subjects.any_consumer())),
            subscribe=(inbox, subjects.all_worker_requests()))
    if role is Role.SINK:
        return Permissions(
            publish=(
                *_TOPOLOGY_CHECK, subjects.service_ready(role.value),
                *_durable_consumers(subjects.OCPP_STREAM, _SINK_CONSUMERS),
                *_durable_consumers(subjects.SESSION_STREAM, (subjects.SESSION_SINK_CONSUMER,)),
                *_durable_consumers(subjects.COMMAND_STREAM, (subjects.COMMAND_SINK_CONSUMER,)),
                *_kv_read(subjects.TRANSACTIONS_BUCKET),
                *_kv_read(subjects.ADMISSION_BUCKET),  # the stations' sites
                subjects.dead_letter(subjects.METER_SINK_CONSUMER),
                subjects.dead_letter(subjects.EVENT_SINK_CONSUMER),
                subjects.dead_letter(subjects.SESSION_SINK_CONSUMER),
                subjects.dead_letter(subjects.COMMAND_SINK_CONSUMER)),
            subscribe=(inbox, subjects.sink_query()),
            responses=-1)
    if role is Role.FILES:
        return Permissions(
            publish=(*_TOPOLOGY_CHECK, subjects.service_ready(role.value),
                     *_kv_read(subjects.FILE_GRANTS_BUCKET), *_kv_write(subjects.FILES_BUCKET)),
            subscribe=(inbox,))
    if role is Role.API:
        return Permissions(
            publish=(
                *_TOPOLOGY_CHECK, subjects.service_ready(role.value),
                *(permission for bucket in _API_READS for permission in _kv_read(bucket)),
                *(permission for bucket in _API_WRITES for permission in _kv_write(bucket)),
                *_stream_read(subjects.COMMAND_STREAM), *_stream_read(subjects.CHANGE_STREAM),
                *_stream_read(subjects.FEED_STREAM), subjects.stream_info(subjects.FEED_STREAM),
                subjects.transaction_id_counter(), subjects.all_station_commands(),
                subjects.command_records(), subjects.change_records(), subjects.sink_query(),
                subjects.rollout_advance(), subjects.site_reallocation()),
            subscribe=(inbox,))
    if role is Role.EDGE:
        if node_id is None:
            raise ValueError("an edge's permissions need its node id")
        return Permissions(
            publish=(
                *_TOPOLOGY_CHECK, subjects.service_ready(role.value),
                subjects.all_station_events(), subjects.all_worker_requests(),
                subjects.edge_about(node_id), *_kv_write(subjects.PRESENCE_BUCKET),
                *_kv_write(subjects.LAST_HEARD_BUCKET),
                subjects.command_records(),  # the audit trail of the calls it sends
                subjects.all_vendor_data(),  # DataTransfers, to their vendors' integrations
                *_kv_read(subjects.ADMISSION_BUCKET)),
            subscribe=(inbox, subjects.edge_commands(node_id), subjects.edge_about(node_id),
                       subjects.edges_about()))
    if role is Role.DATA_TRANSFER:
        return Permissions(publish=(), subscribe=(inbox, subjects.all_vendor_data()))
    return Permissions(publish=(), subscribe=(inbox, subjects.certificate_signing()))
