"""Which remote start began a 1.6 transaction (chargebus.domain.sessions.remote_start_of):
1.6 carries no reference, so it goes by token, connector and time."""
from datetime import UTC, datetime, timedelta

from chargebus.domain.sessions import linked, remote_start_of
from chargebus.ocpp import OcppVersion
from chargebus.state.records import RemoteStart, Transaction

STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a fixed instant: no clock is read
WINDOW = timedelta(seconds=180)


def _transaction(**changes) -> Transaction:
    return Transaction(transaction_id="17", station_id="CP-1", version=OcppVersion.V16,
                       evse_id=1, id_token="04A2", started_at=STARTED).model_copy(update=changes)


def _remote(remote_start_id: int, seconds_before: float, **changes) -> RemoteStart:
    return RemoteStart(station_id="CP-1", remote_start_id=remote_start_id, id_token="04a2",
                       sender="cli:ops", answer="Accepted",
                       requested_at=STARTED - timedelta(seconds=seconds_before)
                       ).model_copy(update=changes)


def test_the_earliest_matching_start_in_the_window_is_the_one():
    starts = [_remote(3, 20), _remote(2, 60), _remote(4, 5)]
    assert remote_start_of(_transaction(), starts, WINDOW).remote_start_id == 2


def test_tokens_compare_without_case_and_any_connector_matches():
    assert remote_start_of(_transaction(), [_remote(1, 10, evse_id=None)], WINDOW) is not None
    assert remote_start_of(_transaction(), [_remote(1, 10, evse_id=1)], WINDOW) is not None


def test_what_does_not_match_is_not_taken():
    unmatched = [_remote(1, 10, id_token="OTHER"), _remote(2, 10, evse_id=2),
                 _remote(3, 181), _remote(4, -181), _remote(5, 10, transaction_id="16"),
                 _remote(6, 10, answer="Rejected"), _remote(7, 10, answer="timeout")]
    assert remote_start_of(_transaction(), unmatched, WINDOW) is None


def test_a_start_still_unanswered_matches():
    """The station may start before its answer to the request has come back."""
    assert remote_start_of(_transaction(), [_remote(1, 1, answer=None)],
                           WINDOW).remote_start_id == 1


def test_a_transaction_without_a_token_or_a_start_has_none():
    assert remote_start_of(_transaction(id_token=None), [_remote(1, 10)], WINDOW) is None
    assert remote_start_of(_transaction(started_at=None), [_remote(1, 10)], WINDOW) is None


def test_linking_names_the_start_and_its_sender_once():
    record = linked(_transaction(), _remote(9, 10))
    assert (record.remote_start_id, record.started_by) == (9, "cli:ops")
    assert linked(record, _remote(10, 5)) is None
