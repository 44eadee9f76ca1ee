"""Every NATS subject, stream, consumer and bucket name of chargebus.

No other module writes a subject string; they all ask this one. Station ids are
checked by chargebus.stations.check_station_id before they get here, so a station id
is always a single subject token.

Subject space (prefix ``cb``):
    cb.station.<action>.<station>   station-to-CSMS calls kept in the OCPP stream
    cb.rpc.<action>                 station calls answered by a worker (queue groups)
    cb.rpc.password-check           an edge asks a worker whether a station's password is right
    cb.cmd.<edge>.<station>         CSMS-to-station calls, served by the edge holding the socket
    cb.edge.<edge>.about            one edge says it runs, and how (chargebus.state.edges)
    cb.edges.about                  every edge says so
    cb.session.<station>            finished transactions, for the sessions table
    cb.audit.<station>.<action>     CSMS-to-station calls and how they ended (the audit trail)
    cb.sys.ready.<service>          a service announces it is up
    cb.sink.query                   read-only SQL to the process that owns chdb
    cb.ca.sign                      a CSR to an external CA integration (security.authority)
    cb.vendor.<vendor id>           a station's DataTransfer, to the integration of its vendor
    cb.deadletter.<consumer>        messages a consumer can never use, with the reason
    _INBOX.<identity key>.*         replies to one NATS identity's requests (security.permissions)

The JetStream and KV API subjects below name what an identity may do with a stream or
bucket (chargebus.security.permissions); nats-py builds the same subjects itself.
"""
PREFIX = "cb"

OCPP_STREAM = "OCPP"
TRANSACTION_ID_STREAM = "TRANSACTION_IDS"
DEAD_LETTER_STREAM = "DEAD_LETTERS"

STATIONS_BUCKET = "stations"
STATUSES_BUCKET = "statuses"
TOKENS_BUCKET = "tokens"
TRANSACTIONS_BUCKET = "transactions"
PRESENCE_BUCKET = "presence"
ACCESS_BUCKET = "access"  # the secret: password hashes, for workers and the operator only
ADMISSION_BUCKET = "admission"  # how stations are admitted, for edges and the sink too
LOCAL_LISTS_BUCKET = "local-lists"
CERTIFICATES_BUCKET = "certificates"
RESERVATIONS_BUCKET = "reservations"
DEVICE_MODEL_BUCKET = "device-model"
LAST_HEARD_BUCKET = "last-heard"
CHARGING_PROFILES_BUCKET = "charging-profiles"
FIRMWARE_BUCKET = "firmware"
ROLLOUTS_BUCKET = "rollouts"
DISPLAY_MESSAGES_BUCKET = "display-messages"
# What stations reported of customers: personal data, for workers and the operator only.
CUSTOMERS_BUCKET = "customers"
# Sites: their topology, which site each station is in, the load manager's allocations.
SITES_BUCKET = "sites"
# The file service's grants (each the hash of the secret one URL carries), the files it
# holds (firmware images, stations' uploads) and the stations' log and diagnostics requests.
FILE_GRANTS_BUCKET = "file-grants"
FILES_BUCKET = "files"
STATION_LOGS_BUCKET = "station-logs"
# The HTTP API's keys: the hashes of their secrets, their scopes and reach.
API_KEYS_BUCKET = "api-keys"
# Operations the HTTP API was asked not to wait for, and how each ended, for polling.
API_COMMANDS_BUCKET = "api-commands"
# The trail of changes made through the HTTP API that are no calls to stations.
CHANGE_STREAM = "CHANGES"
# What happens, as operators and their software follow it (the API's event feed and
# webhooks): one stream, so that one sequence orders it and a client resumes from it.
FEED_STREAM = "FEED"
# The webhooks the feed is delivered to (chargebus.manage.webhooks).
WEBHOOKS_BUCKET = "webhooks"
# The workers' consumers that make the feed, one per source.
FEED_CONSUMERS = ("feed-presence", "feed-statuses", "feed-commands", "feed-security")
SESSION_STREAM = "SESSIONS"
COMMAND_STREAM = "COMMANDS"
COMMAND_SINK_CONSUMER = "command-sink"
TRANSACTION_CONSUMER = "transactions"
SESSION_SINK_CONSUMER = "session-sink"

METER_SINK_CONSUMER = "meter-sink"
EVENT_SINK_CONSUMER = "event-sink"  # station notifications that are no meter data
STATUS_CONSUMER = "registry-status"
RESERVATION_CONSUMER = "reservations"
DEVICE_MODEL_CONSUMER = "device-model"
CHARGING_PROFILES_CONSUMER = "charging-profiles"
LOAD_MANAGER_CONSUMER = "load-manager"
FIRMWARE_CONSUMER = "firmware"
DISPLAY_MESSAGES_CONSUMER = "display-messages"
CUSTOMERS_CONSUMER = "customers"
LOGS_CONSUMER = "logs"


# The action comes before the station so that a consumer reads one action through one
# filter, ``cb.station.<action>.*``. Consumers have a single filter each: nats-server
# spends several times as much on a message for a consumer with several wildcard filters
# as for one with a single filter. A single filter costs about what none does once a
# stream block holds many subjects, as a busy network's blocks do (many stations, each
# sending seldom), and a consumer of the whole stream would hand its reader all the
# other calls too, which slowed the meter sink by a third (benchmarks/README.md).
def station_event(station_id: str, action: str) -> str:
    """Where an edge records a station-to-CSMS call in the OCPP stream."""
    return f"{PREFIX}.station.{action}.{station_id}"


def recorded_call(subject: str) -> tuple[str, str]:
    """The action and the station a station_event() subject names."""
    prefix, kind, action, station_id = subject.split(".")
    if prefix != PREFIX or kind != "station":
        raise ValueError(f"not a recorded call: {subject!r}")
    return action, station_id


def station_events(action: str) -> str:
    """Filter for the recorded calls of one action from every station."""
    return f"{PREFIX}.station.{action}.*"


def station_calls(station_id: str) -> str:
    """Filter for every recorded call of one station."""
    return f"{PREFIX}.station.*.{station_id}"


def all_station_events() -> str:
    return f"{PREFIX}.station.>"


def all_worker_requests() -> str:
    return f"{PREFIX}.rpc.>"


def worker_request(action: str) -> str:
    """Where an edge asks the workers to answer a station's call."""
    return f"{PREFIX}.rpc.{action}"


def password_check() -> str:
    """Where an edge asks the workers whether a station's password is right: a name no
    OCPP action has, so that it shares the edges' permission on cb.rpc.>."""
    return f"{PREFIX}.rpc.password-check"


def site_reallocation() -> str:
    """Where a command asks the load manager to divide a site again now (the site id is
    the payload): a change of its limits or topology."""
    return f"{PREFIX}.rpc.charging.reallocate"


def rollout_advance() -> str:
    """Where a command asks the workers to go on with a firmware roll-out now (its id is
    the payload): it was made, resumed or cancelled."""
    return f"{PREFIX}.rpc.firmware.rollout"


def station_command(edge_id: str, station_id: str) -> str:
    """Where any process sends a call to one station, on the edge its presence record
    names."""
    return f"{PREFIX}.cmd.{edge_id}.{station_id}"


def all_station_commands() -> str:
    """Every call to every station: who may publish here commands every station."""
    return f"{PREFIX}.cmd.*.*"


def edge_commands(edge_id: str) -> str:
    """What one edge subscribes to: the calls to every station it may hold (one
    subscription, not one per station)."""
    return f"{PREFIX}.cmd.{edge_id}.*"


def edge_about(edge_id: str) -> str:
    """Answered by the edge running under this node id, if any."""
    return f"{PREFIX}.edge.{edge_id}.about"


def any_edge_about() -> str:
    """Asking any one edge by its node id (edge_about of each)."""
    return f"{PREFIX}.edge.*.about"


def edges_about() -> str:
    """Answered by every running edge."""
    return f"{PREFIX}.edges.about"


def commanded_station(subject: str) -> str:
    """The station a station_command() subject names."""
    return subject.rpartition(".")[2]


def session(station_id: str) -> str:
    return f"{PREFIX}.session.{station_id}"


def all_sessions() -> str:
    return f"{PREFIX}.session.>"


def vendor_data(vendor_id: str) -> str:
    """Where an integration answers the DataTransfers of one vendor id; the id escaped
    into one subject token ('.' and every character outside [A-Za-z0-9-_] as '=' and
    its UTF-8 bytes in hex: "com.example" is "com=2Eexample")."""
    token = "".join(char if char.isascii() and (char.isalnum() or char in "-_")
                    else "".join(f"={byte:02X}" for byte in char.encode())
                    for char in vendor_id)
    return f"{PREFIX}.vendor.{token}"


def all_vendor_data() -> str:
    return f"{PREFIX}.vendor.>"


def command_record(station_id: str, action: str) -> str:
    """Where a CSMS-to-station call is recorded once it ended (operations.audit)."""
    return f"{PREFIX}.audit.{station_id}.{action}"


def command_records(station_id: str | None = None) -> str:
    """Filter for the recorded calls to one station, or to every station."""
    return f"{PREFIX}.audit.{station_id}.*" if station_id else f"{PREFIX}.audit.>"


def change_record(resource: str) -> str:
    """Where a change made through the HTTP API is recorded (operations.audit)."""
    return f"{PREFIX}.changes.{resource}"


def change_records() -> str:
    return f"{PREFIX}.changes.>"


def feed_event(kind: str, station_id: str) -> str:
    """Where one event of the feed goes; its kind's dots are dashes here, so that a
    filter's tokens stay kind and station."""
    return f"{PREFIX}.feed.{kind.replace('.', '-')}.{station_id}"


def feed_events(station_id: str | None = None) -> str:
    """Filter for the feed's events, of one station or of all."""
    return f"{PREFIX}.feed.*.{station_id}" if station_id else f"{PREFIX}.feed.>"


def webhook_consumer(webhook_id: str) -> str:
    """The durable consumer of the feed that delivers one webhook's events."""
    return f"webhook-{webhook_id}"


def transaction_id_counter() -> str:
    """Publishing here allocates the next transaction id (the stream's sequence)."""
    return f"{PREFIX}.txid"


def service_ready(service: str) -> str:
    return f"{PREFIX}.sys.ready.{service}"


def any_service_ready() -> str:
    return f"{PREFIX}.sys.ready.*"


def ready_service(subject: str) -> str:
    """The service a service_ready() subject announces."""
    return subject.rsplit(".", 1)[-1]


def sink_query() -> str:
    return f"{PREFIX}.sink.query"


def certificate_signing() -> str:
    """Where the workers hand a station's CSR to an external CA (CHARGEBUS_CA_MODE=external)."""
    return f"{PREFIX}.ca.sign"


def dead_letter(consumer: str) -> str:
    return f"{PREFIX}.deadletter.{consumer}"


def all_dead_letters() -> str:
    return f"{PREFIX}.deadletter.>"


def queue_group(service: str) -> str:
    return f"chargebus-{service}"


def action_consumer(consumer: str, action: str) -> str:
    """The durable consumer that reads one action's recorded calls for ``consumer``."""
    return f"{consumer}-{action}"


def consumer_next(stream: str, consumer: str) -> str:
    """JetStream's API subject for pulling the next messages of a durable consumer."""
    return f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"


def inbox_prefix(identity_key: str) -> str:
    """The inbox of one NATS identity (its public key): its replies come under it, and
    only it may subscribe there, so that no identity reads another's answers."""
    return f"_INBOX.{identity_key}"


def inboxes(prefix: str) -> str:
    return f"{prefix}.>"


def everything() -> str:
    return ">"


def kv_stream(bucket: str) -> str:
    """The JetStream stream behind a KV bucket."""
    return f"KV_{bucket}"


def kv_keys(bucket: str) -> str:
    """Every key of a bucket, as a subject: writing a key is publishing here."""
    return f"$KV.{bucket}.>"


def kv_key_prefix(bucket: str) -> str:
    return f"$KV.{bucket}."


_JS_API = "$JS.API"
_JS_ACK = "$JS.ACK"


def stream_info(stream: str) -> str:
    return f"{_JS_API}.STREAM.INFO.{stream}"


def stream_messages_get(stream: str) -> tuple[str, ...]:
    """Reading one message (a KV get): direct, or through the stream's leader."""
    return (f"{_JS_API}.DIRECT.GET.{stream}", f"{_JS_API}.DIRECT.GET.{stream}.>",
            f"{_JS_API}.STREAM.MSG.GET.{stream}")


def watch_api(stream: str) -> tuple[str, ...]:
    """Making, looking up and deleting the unnamed consumers of a stream (KV watches)."""
    return (f"{_JS_API}.CONSUMER.CREATE.{stream}", f"{_JS_API}.CONSUMER.CREATE.{stream}.>",
            f"{_JS_API}.CONSUMER.INFO.{stream}.>", f"{_JS_API}.CONSUMER.DELETE.{stream}.>")


def durable_consumer_api(stream: str, consumer: str) -> tuple[str, ...]:
    """Making, looking up and pulling from one durable consumer, and acknowledging its
    messages (``$JS.ACK.<stream>.<consumer>.…``): only this consumer's."""
    return (f"{_JS_API}.CONSUMER.CREATE.{stream}.{consumer}",
            f"{_JS_API}.CONSUMER.CREATE.{stream}.{consumer}.>",
            f"{_JS_API}.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
            f"{_JS_API}.CONSUMER.INFO.{stream}.{consumer}",
            consumer_next(stream, consumer), f"{_JS_ACK}.{stream}.{consumer}.>")


def any_consumer() -> str:
    """In a consumer's API subject: every consumer of the stream."""
    return "*"


def consumer_delete(stream: str, consumer: str) -> str:
    return f"{_JS_API}.CONSUMER.DELETE.{stream}.{consumer}"


def jetstream_ack_prefix() -> str:
    """What the reply subject of every message a JetStream consumer delivers starts with:
    acknowledging the message is publishing there."""
    return f"{_JS_ACK}."


def flow_control(stream: str) -> str:
    """Where a push consumer (a KV watch) answers the server's flow control."""
    return f"$JS.FC.{stream}.>"
