"""The business rules without I/O: transactions built from events in any order,
authorization, stale transactions, local list updates, and the converters."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargebus.domain import sessions
from chargebus.domain.locallists import changes, edit
from chargebus.domain.model import (AuthorizationDecision, AuthorizationStatus, EnergyReading,
                                    IdToken, TokenType, TokenUse, TransactionEvent,
                                    TransactionEventKind)
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.converters import converter
from chargebus.state.records import ActiveTransactions, LocalListEntry, Token

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def event(seq: int, kind: TransactionEventKind, minutes: int, wh: float | None = None,
          **fields) -> TransactionEvent:
    moment = T0 + timedelta(minutes=minutes)
    return TransactionEvent(
        key=f"seq:{seq}", kind=kind, transaction_id="tx-1", timestamp=moment,
        readings=[EnergyReading(timestamp=moment, wh=wh)] if wh is not None else [], **fields)


SESSION = [
    event(0, TransactionEventKind.STARTED, 0, 10_000, evse_id=2, connector_id=1,
          id_token=IdToken(value="TAG-1", type=TokenType.ISO14443), trigger_reason="Authorized"),
    event(1, TransactionEventKind.UPDATED, 15, 11_500, trigger_reason="MeterValuePeriodic"),
    event(2, TransactionEventKind.UPDATED, 30, 12_000, offline=True,
          trigger_reason="MeterValuePeriodic"),
    event(3, TransactionEventKind.ENDED, 45, 13_250, trigger_reason="EVDeparted",
          stop_reason="EVDisconnected"),
]


def replay(events) -> object:
    record = None
    for item in events:
        record = sessions.apply_event(record, item, "CS-1", OcppVersion.V201) or record
    return record


def test_a_session_in_order():
    record = replay(SESSION)
    assert (record.evse_id, record.connector_id, record.id_token) == (2, 1, "TAG-1")
    assert (record.started_at, record.stopped_at) == (T0, T0 + timedelta(minutes=45))
    assert ((record.energy_wh, record.stop_reason, record.offline_events)
            == (3250, "EVDisconnected", 1))
    assert record.last_trigger_reason == "EVDeparted" and not record.active


@settings(max_examples=200, deadline=None)
@given(st.permutations(SESSION + SESSION[1:3] + [SESSION[3]]))
def test_any_order_with_repeats_ends_the_same(events):
    assert replay(events) == replay(SESSION).model_copy(update={"applied": replay(events).applied})
    assert sorted(replay(events).applied_keys) == ["seq:0", "seq:1", "seq:2", "seq:3"]


def test_a_repeated_event_changes_nothing():
    record = replay(SESSION[:2])
    assert sessions.apply_event(record, SESSION[1], "CS-1", OcppVersion.V201) is None
    resent = SESSION[1].model_copy()  # the same content from a new call (a new unique id)
    assert sessions.apply_event(record, resent, "CS-1", OcppVersion.V201) is None
    assert not sessions.key_reused(record, resent)


# A station that numbers every event of its transactions 0 (a real station's bug).
ONE_SEQ_NO = [item.model_copy(update={"key": "seq:0"}) for item in SESSION]


def test_events_a_station_numbered_alike_are_each_applied_by_their_content():
    record = replay(ONE_SEQ_NO)
    assert record == replay(SESSION).model_copy(update={"applied": record.applied})
    assert not record.active and record.stop_reason == "EVDisconnected"
    assert record.applied_keys == ["seq:0"] * 4
    assert sessions.key_reused(replay(ONE_SEQ_NO[:1]), ONE_SEQ_NO[3])  # what gets logged
    assert not sessions.key_reused(replay(ONE_SEQ_NO[:1]), SESSION[3])  # a key of its own
    for item in ONE_SEQ_NO:  # each delivered again: nothing changes
        assert sessions.apply_event(record, item, "CS-1", OcppVersion.V201) is None


@settings(max_examples=200, deadline=None)
@given(st.permutations(ONE_SEQ_NO + ONE_SEQ_NO[1:3] + [ONE_SEQ_NO[3]]))
def test_events_numbered_alike_in_any_order_with_repeats_end_the_same(events):
    record = replay(events)
    assert record == replay(ONE_SEQ_NO).model_copy(update={"applied": record.applied})
    assert sorted(record.applied) == sorted(replay(ONE_SEQ_NO).applied)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_of_two_different_ends_under_one_key_the_later_ends_it(order):
    ends = [ONE_SEQ_NO[3],
            ONE_SEQ_NO[3].model_copy(update={"timestamp": T0 + timedelta(minutes=50),
                                             "stop_reason": "Remote"})]
    record = replay(ONE_SEQ_NO[:3] + [ends[index] for index in order])
    assert (record.stopped_at, record.stop_reason) == (T0 + timedelta(minutes=50), "Remote")


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_of_two_different_starts_under_one_key_the_earlier_starts_it(order):
    starts = [ONE_SEQ_NO[0],
              ONE_SEQ_NO[0].model_copy(update={"timestamp": T0 - timedelta(minutes=5),
                                               "evse_id": 7})]
    record = replay([starts[index] for index in order] + ONE_SEQ_NO[1:])
    assert (record.started_at, record.evse_id) == (T0 - timedelta(minutes=5), 7)


def test_the_stations_own_end_replaces_an_end_by_rule():
    closed = sessions.close_by_rule(replay(SESSION[:3]), "no event for 2 days")
    assert not closed.active and closed.closed_by_rule
    ended = sessions.apply_event(closed, SESSION[3], "CS-1", OcppVersion.V201)
    assert ended.closed_by_rule is None and ended.stop_reason == "EVDisconnected"


def test_stale_rules():
    record = replay(SESSION[:2])  # last event at 08:15
    grace, silence = timedelta(minutes=15), timedelta(hours=48)
    later = T0 + timedelta(hours=1)
    assert sessions.stale_reason(record, None, later, grace, silence) is None
    # Rebooted at 08:20 and silent since: closed 15 minutes after the boot.
    booted = T0 + timedelta(minutes=20)
    assert sessions.stale_reason(record, booted, booted + timedelta(minutes=10), grace,
                                 silence) is None
    assert "rebooted" in sessions.stale_reason(record, booted, booted + grace, grace, silence)
    # A boot before the last event is not a reboot mid-session.
    assert sessions.stale_reason(record, T0, later, grace, silence) is None
    assert "no event" in sessions.stale_reason(record, None, T0 + timedelta(days=3), grace,
                                               silence)
    assert sessions.stale_reason(replay(SESSION), booted, later, grace, silence) is None


@pytest.mark.parametrize("token, active, own, expected", [
    (None, [], None, AuthorizationStatus.INVALID),
    (Token(id_token="A"), [], None, AuthorizationStatus.ACCEPTED),
    (Token(id_token="A", status=AuthorizationStatus.BLOCKED), [], None,
     AuthorizationStatus.BLOCKED),
    (Token(id_token="A", expires_at=T0 - timedelta(seconds=1)), [], None,
     AuthorizationStatus.EXPIRED),
    (Token(id_token="A"), ["CS-1/7"], None, AuthorizationStatus.CONCURRENT_TX),
    (Token(id_token="A"), ["CS-1/7"], "CS-1/7", AuthorizationStatus.ACCEPTED),  # its own
    (Token(id_token="A", max_active=2), ["CS-1/7"], None, AuthorizationStatus.ACCEPTED),
    (Token(id_token="A", max_active=0), ["CS-1/7", "CS-2/8"], None, AuthorizationStatus.ACCEPTED),
])
def test_authorization(token, active, own, expected):
    assert sessions.authorization(token, active, T0, own).status is expected


REMEMBERED = timedelta(minutes=15)


def claimed(listing, reference: str, max_active: int = 1, at: datetime = T0):
    """The decision's status and the list after it (the one before where none is written)."""
    decision, written = sessions.claim(listing, Token(id_token="A", max_active=max_active), "A",
                                       reference, at, REMEMBERED)
    return decision.status, written or listing


def test_a_start_is_counted_in_the_write_that_checks_the_limit():
    status, listing = claimed(None, "CS-1/7")
    assert status is AuthorizationStatus.ACCEPTED and listing.transactions == {"CS-1/7": T0}
    assert claimed(listing, "CS-2/8") == (AuthorizationStatus.CONCURRENT_TX, listing)
    # The same start again (a retry, a second worker) finds itself: nothing to write.
    assert sessions.claim(listing, Token(id_token="A"), "A", "CS-1/7", T0, REMEMBERED)[1] is None
    assert claimed(listing, "CS-1/7")[0] is AuthorizationStatus.ACCEPTED
    status, two = claimed(listing, "CS-2/8", max_active=2)
    assert status is AuthorizationStatus.ACCEPTED and sorted(two.transactions) == ["CS-1/7",
                                                                                   "CS-2/8"]
    blocked = Token(id_token="A", status=AuthorizationStatus.BLOCKED)
    assert sessions.claim(None, blocked, "A", "CS-1/7", T0, REMEMBERED) == (
        AuthorizationDecision(status=AuthorizationStatus.BLOCKED), None)
    assert sessions.claim(None, None, "A", "CS-1/7", T0, REMEMBERED)[1] is None


def test_a_stop_frees_the_token_and_its_start_never_counts_again():
    _, listing = claimed(None, "CS-1/7")
    later = T0 + timedelta(minutes=1)
    released = sessions.release(listing, "A", "CS-1/7", later, REMEMBERED)
    assert (released.transactions, released.released) == ({}, {"CS-1/7": later})
    assert sessions.release(released, "A", "CS-1/7", later, REMEMBERED) is None
    assert claimed(released, "CS-2/8")[0] is AuthorizationStatus.ACCEPTED
    # The start, sent again while its stop was answered, is not counted again.
    assert claimed(released, "CS-1/7") == (AuthorizationStatus.ACCEPTED, released)
    # A stop of a start that was refused (never counted) is remembered all the same.
    refused = sessions.release(None, "A", "CS-3/9", T0, REMEMBERED)
    assert (refused.id_token, refused.transactions, refused.released) == ("A", {},
                                                                          {"CS-3/9": T0})
    # Released transactions are forgotten after a while, at the list's next write.
    much_later = later + REMEMBERED
    status, listing = claimed(released, "CS-4/1", at=much_later)
    assert status is AuthorizationStatus.ACCEPTED and listing.released == {}


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3), st.lists(st.tuples(st.booleans(), st.integers(0, 5)), max_size=40))
def test_claims_and_releases_never_count_more_than_the_limit(max_active, calls):
    listing, ended = None, set()
    for starting, number in calls:
        reference = f"CS-{number}/{number}"
        if starting:
            status, listing = claimed(listing, reference, max_active)
            counted = set(listing.transactions) if listing else set()
            room = max_active == 0 or len(counted - {reference}) < max_active
            assert (status is AuthorizationStatus.ACCEPTED) == room
            assert (reference in counted) == (room and reference not in ended)
        else:
            listing = sessions.release(listing, "A", reference, T0, REMEMBERED) or listing
            ended.add(reference)
        counted = set(listing.transactions) if listing else set()
        assert not counted & ended
        assert max_active == 0 or len(counted) <= max_active


def test_a_count_is_dropped_once_it_ended_or_never_got_a_record():
    _, listing = claimed(None, "CS-1/7")
    assert sessions.without(listing, "CS-1/7").transactions == {}
    assert sessions.without(listing, "CS-2/8") is None and sessions.without(None, "CS-1/7") is None
    grace = timedelta(minutes=15)
    assert not sessions.counts_no_more(None, T0, T0 + grace - timedelta(seconds=1), grace)
    assert sessions.counts_no_more(None, T0, T0 + grace, grace)
    assert not sessions.counts_no_more(replay(SESSION[:2]), T0, T0 + timedelta(days=9), grace)
    assert sessions.counts_no_more(replay(SESSION), T0, T0, grace)


def test_a_list_written_before_counts_had_times_still_reads():
    listing = ActiveTransactions.model_validate_json(
        '{"id_token": "A", "transactions": ["CS-1/7"]}')
    assert list(listing.transactions) == ["CS-1/7"] and listing.released == {}
    assert sessions.counts_no_more(None, listing.transactions["CS-1/7"], T0, timedelta(hours=1))


def test_what_transaction_calls_do_to_their_tokens_count():
    v16, v201 = converter(OcppVersion.V16), converter(OcppVersion.V201)
    assert v16.token_use("StartTransaction", {"idTag": "A"}) is TokenUse.CLAIM
    assert v16.token_use("StopTransaction", {"transactionId": 7}) is TokenUse.RELEASE
    assert v16.token_use("Authorize", {"idTag": "A"}) is None
    token = {"idToken": {"idToken": "A", "type": "ISO14443"}}
    cases = [("Started", "Authorized", token, TokenUse.CLAIM),
             ("Started", "CablePluggedIn", {}, None),
             ("Updated", "Authorized", token, TokenUse.CLAIM),  # plugged in first
             ("Updated", "MeterValuePeriodic", {}, None),
             ("Updated", "StopAuthorized", token, TokenUse.RELEASE),
             ("Updated", "Deauthorized", {}, TokenUse.RELEASE),
             ("Ended", "EVDeparted", {}, TokenUse.RELEASE),
             ("Ended", "StopAuthorized", token, TokenUse.RELEASE)]
    for kind, trigger, carried, expected in cases:
        payload = {"eventType": kind, "triggerReason": trigger, **carried}
        assert v201.token_use("TransactionEvent", payload) is expected, (kind, trigger)


def test_local_list_changes():
    accepted = LocalListEntry(status=AuthorizationStatus.ACCEPTED)
    blocked = LocalListEntry(status=AuthorizationStatus.BLOCKED)
    held = {"A": accepted, "B": accepted, "C": accepted}
    wanted = {"A": accepted, "B": blocked, "D": accepted}
    assert changes(wanted, held) == {"B": blocked, "D": accepted, "C": None}
    edited = edit(None, "CS-1", {"A": accepted}, [])
    edited = edit(edited, "CS-1", {"B": blocked}, ["A"])
    assert (edited.version, edited.entries) == (2, {"B": blocked})


def test_converters_answer_in_each_versions_words():
    decision = AuthorizationDecision(status=AuthorizationStatus.ACCEPTED,
                                     expires_at=T0, group_id="GROUP-1")
    assert converter(OcppVersion.V16).authorization_answer("StartTransaction", decision, "42") == {
        "idTagInfo": {"status": "Accepted", "expiryDate": "2026-11-21T08:00:00.000Z",
                      "parentIdTag": "GROUP-1"}, "transactionId": 42}
    assert converter(OcppVersion.V201).authorization_answer("Authorize", decision) == {
        "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2026-11-21T08:00:00.000Z",
                        "groupIdToken": {"idToken": "GROUP-1", "type": "Central"}}}
    assert converter(OcppVersion.V21) is converter(OcppVersion.V201)


def test_a_16_start_and_stop_become_events():
    convert = converter(OcppVersion.V16)
    start = convert.transaction_event("StartTransaction", {
        "connectorId": 2, "idTag": "TAG", "meterStart": 500, "timestamp": "2026-11-21T08:00:00Z"},
        {"transactionId": 42, "idTagInfo": {"status": "Accepted"}})
    stop = convert.transaction_event("StopTransaction", {
        "transactionId": 42, "meterStop": 2, "timestamp": "2026-11-21T09:00:00Z",
        "transactionData": [{"timestamp": "2026-11-21T08:59:00Z", "sampledValue": [
            {"value": "1.9", "unit": "kWh"}]}]}, None)
    assert (start.key, start.transaction_id, start.evse_id, start.readings[0].wh) == (
        "start", "42", 2, 500)
    assert (stop.key, stop.stop_reason, [r.wh for r in stop.readings]) == ("stop", "Local",
                                                                           [1900, 2])
