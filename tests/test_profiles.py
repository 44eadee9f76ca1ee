"""Charging profiles on the wire and in the store: each version's payloads are valid
against the OCA schemas and read back to the same model, what a version cannot say is
refused before anything is sent, and the stored list follows the stations' answers and
reports (chargebus.domain.installed)."""
from datetime import UTC, datetime, timedelta

import pytest

from chargebus.domain import installed
from chargebus.domain.operations import (ClearChargingProfile, GetChargingProfiles,
                                         GetCompositeSchedule, NotInVersion,
                                         SetChargingProfile)
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Kind, Purpose,
                                       RateUnit, Recurrency, SchedulePeriod)
from chargebus.ocpp import OcppVersion, codec
from chargebus.ocpp.converters import operations_of
from chargebus.ocpp.v2x import profiles as v2x_profiles
from chargebus.ocpp.v16 import profiles as v16_profiles
from chargebus.state.records import StoredProfile

BASE = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)


def profile(profile_id: int = 7, purpose: Purpose = Purpose.TX_DEFAULT, stack_level: int = 0,
            kind: Kind = Kind.ABSOLUTE, transaction_id: str | None = None,
            recurrency: Recurrency | None = None, unit: RateUnit = RateUnit.AMPERES
            ) -> ChargingProfile:
    start = None if kind is Kind.RELATIVE else BASE
    return ChargingProfile(
        profile_id=profile_id, stack_level=stack_level, purpose=purpose, kind=kind,
        recurrency=recurrency, transaction_id=transaction_id,
        valid_from=BASE - timedelta(days=1), valid_to=BASE + timedelta(days=30),
        schedule=ChargingSchedule(unit=unit, start_schedule=start, duration=86400,
                                  min_charging_rate=6.0, periods=(
                                      SchedulePeriod(start_period=0, limit=16.0),
                                      SchedulePeriod(start_period=3600, limit=32.0,
                                                     number_phases=1))))


PROFILES = [
    profile(),
    profile(purpose=Purpose.STATION_MAX, kind=Kind.RECURRING, recurrency=Recurrency.DAILY,
            unit=RateUnit.WATTS),
    profile(purpose=Purpose.TX, kind=Kind.RELATIVE, transaction_id="1234", stack_level=3),
    profile(kind=Kind.RECURRING, recurrency=Recurrency.WEEKLY),
]


@pytest.mark.parametrize("version", list(OcppVersion))
@pytest.mark.parametrize("sent", PROFILES, ids=lambda p: f"{p.purpose}-{p.kind}")
def test_a_profile_is_a_valid_call_and_reads_back_the_same(version, sent):
    action, payload = operations_of(version).request(SetChargingProfile(evse_id=1, profile=sent))
    assert action == "SetChargingProfile"
    codec.call(codec.dialect_of(version), "1", action, payload)  # InvalidOutgoing if not
    if version is OcppVersion.V16:
        assert payload["connectorId"] == 1
        read = v16_profiles.profile_of(payload["csChargingProfiles"])
    else:
        assert payload["evseId"] == 1
        read = v2x_profiles.profile_of(payload["chargingProfile"])
        # 2.x schedules have an id of their own; the profile's is given where none is.
        sent = sent.model_copy(update={"schedule": sent.schedule.model_copy(
            update={"schedule_id": sent.profile_id})})
    assert read == sent


def test_16_names_the_station_maximum_its_own_way():
    _, payload = operations_of(OcppVersion.V16).request(SetChargingProfile(
        evse_id=0, profile=profile(purpose=Purpose.STATION_MAX)))
    assert payload["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"


@pytest.mark.parametrize("operation, why", [
    (SetChargingProfile(evse_id=0, profile=profile(purpose=Purpose.EXTERNAL)), "1.6 has no"),
    (SetChargingProfile(evse_id=1, profile=profile(purpose=Purpose.TX, kind=Kind.RELATIVE,
                                                   transaction_id="a-b")), "integers"),
    (SetChargingProfile(evse_id=1, profile=profile().model_copy(update={
        "schedule": ChargingSchedule(unit=RateUnit.AMPERES, periods=(SchedulePeriod(
            start_period=0, limit=10, number_phases=1, phase_to_use=2),))})), "phaseToUse"),
    (GetChargingProfiles(request_id=1), "2.x"),
])
def test_what_16_cannot_say_is_refused_before_sending(operation, why):
    with pytest.raises(NotInVersion, match=why):
        operations_of(OcppVersion.V16).request(operation)


@pytest.mark.parametrize("version", list(OcppVersion))
def test_clears_fetches_and_schedules_are_valid_calls(version):
    operations = [ClearChargingProfile(profile_id=3), ClearChargingProfile(
        evse_id=1, purpose=Purpose.TX_DEFAULT, stack_level=2),
        GetCompositeSchedule(evse_id=1, duration=3600, unit=RateUnit.WATTS)]
    if version is not OcppVersion.V16:
        operations.append(GetChargingProfiles(request_id=9, evse_id=1, purpose=Purpose.TX,
                                              profile_ids=[1, 2]))
    for operation in operations:
        action, payload = operations_of(version).request(operation)
        codec.call(codec.dialect_of(version), "1", action, payload)


@pytest.mark.parametrize("version", list(OcppVersion))
def test_a_composite_schedule_answer_reads_back(version):
    from chargebus.domain.composite import CompositeSchedule
    schedule = CompositeSchedule(evse_id=1, start=BASE, duration=7200, unit=RateUnit.AMPERES,
                                 periods=(SchedulePeriod(start_period=0, limit=10.0),
                                          SchedulePeriod(start_period=1800, limit=16.0)))
    wire = v16_profiles if version is OcppVersion.V16 else v2x_profiles
    answer = wire.composite_payload(schedule)
    codec.check_result(codec.dialect_of(version), "GetCompositeSchedule", answer)
    result = operations_of(version).result(
        GetCompositeSchedule(evse_id=1, duration=7200), answer)
    assert result.taken and result.schedule == schedule


def test_a_station_that_holds_no_profiles_has_answered_a_fetch():
    result = operations_of(OcppVersion.V201).result(GetChargingProfiles(request_id=1),
                                                    {"status": "NoProfiles"})
    assert result.taken


def test_a_21_period_chargebus_does_not_model_is_not_read_as_a_plain_limit():
    payload = v2x_profiles.profile_payload(profile())
    payload["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit_L2"] = 8.0
    with pytest.raises(ValueError, match="limit_L2"):
        v2x_profiles.profile_of(payload)


# -- the store's rules ------------------------------------------------------------------

def stored(evse_id: int, sent: ChargingProfile, status: str = installed.ACCEPTED
           ) -> StoredProfile:
    return StoredProfile(evse_id=evse_id, profile=sent, status=status, source="test", at=BASE)


def ids(record) -> list[int]:
    return sorted(each.profile.profile_id for each in record.profiles)


def test_an_accepted_profile_replaces_one_of_its_id_and_a_refusal_replaces_nothing():
    record = installed.with_answer(None, "CP", OcppVersion.V201, stored(1, profile(1)))
    record = installed.with_answer(record, "CP", OcppVersion.V201,
                                   stored(2, profile(1, stack_level=4)))
    assert [(each.evse_id, each.profile.stack_level) for each in record.profiles] == [(2, 4)]
    record = installed.with_answer(record, "CP", OcppVersion.V201,
                                   stored(2, profile(1, stack_level=9), "Rejected"))
    assert record.profiles[0].profile.stack_level == 4
    assert [each.status for each in record.refused] == ["Rejected"]


def test_in_16_the_same_stack_level_and_purpose_on_a_connector_is_replaced():
    first = stored(1, profile(1, stack_level=2))
    second = stored(1, profile(2, stack_level=2))
    for version, kept in ((OcppVersion.V16, [2]), (OcppVersion.V201, [1, 2])):
        record = installed.with_answer(None, "CP", version, first)
        assert ids(installed.with_answer(record, "CP", version, second)) == kept


def test_a_new_transactions_txprofile_replaces_the_ended_ones():
    old = stored(1, profile(1, Purpose.TX, kind=Kind.RELATIVE, transaction_id="1"))
    new = stored(1, profile(2, Purpose.TX, kind=Kind.RELATIVE, transaction_id="2"))
    record = installed.with_answer(None, "CP", OcppVersion.V201, old)
    assert ids(installed.with_answer(record, "CP", OcppVersion.V201, new)) == [2]


def test_a_clear_by_id_or_by_every_criterion():
    record = None
    for each in (stored(0, profile(1, Purpose.STATION_MAX)), stored(1, profile(2)),
                 stored(2, profile(3)), stored(1, profile(4, stack_level=1))):
        record = installed.with_answer(record, "CP", OcppVersion.V201, each)
    assert ids(installed.with_cleared(record, ClearChargingProfile(profile_id=3))) == [1, 2, 4]
    assert ids(installed.with_cleared(record, ClearChargingProfile(
        evse_id=1, purpose=Purpose.TX_DEFAULT, stack_level=0))) == [1, 3, 4]
    assert ids(installed.with_cleared(record, ClearChargingProfile(
        purpose=Purpose.TX_DEFAULT))) == [1]
    assert installed.with_cleared(record, ClearChargingProfile(profile_id=99)) is None


def test_a_fetchs_parts_replace_what_it_selected_once_the_last_has_come():
    record = None
    for each in (stored(1, profile(1)), stored(2, profile(2)), stored(0, profile(
            3, Purpose.STATION_MAX))):
        record = installed.with_answer(record, "CP", OcppVersion.V201, each)
    fetch = GetChargingProfiles(request_id=5, purpose=Purpose.TX_DEFAULT)
    record = installed.with_fetch(record, "CP", fetch)
    reported = StoredProfile(evse_id=1, profile=profile(9), status=installed.REPORTED,
                             source="EMS", at=BASE)
    partly = installed.with_report(record, "CP", 5, [reported], more=True)
    assert ids(partly) == [1, 2, 3] and partly.fetch is not None
    done = installed.with_report(partly, "CP", 5, [], more=False)
    # profile 2 (a TxDefault the station no longer listed) is gone; the station maximum,
    # which the fetch did not select, stays.
    assert ids(done) == [3, 9] and done.fetch is None
    assert installed.with_no_profiles(installed.with_fetch(done, "CP", fetch), 5).profiles \
        == [each for each in done.profiles if each.profile.purpose is Purpose.STATION_MAX]


def test_a_report_of_no_fetch_chargebus_made_only_adds():
    record = installed.with_answer(None, "CP", OcppVersion.V201, stored(1, profile(1)))
    reported = StoredProfile(evse_id=1, profile=profile(2), status=installed.REPORTED,
                             source="SO", at=BASE)
    assert ids(installed.with_report(record, "CP", 77, [reported], more=False)) == [1, 2]


def test_a_report_reads_its_parts():
    payload = {"requestId": 4, "chargingLimitSource": "CSO", "evseId": 1, "tbc": True,
               "chargingProfile": [v2x_profiles.profile_payload(profile(5))]}
    codec.call(codec.dialect_of(OcppVersion.V201), "1", "ReportChargingProfiles", payload)
    sent = profile(5)
    sent = sent.model_copy(update={"schedule": sent.schedule.model_copy(
        update={"schedule_id": 5})})
    assert v2x_profiles.report_of(payload) == (4, "CSO", 1, [sent], True)
