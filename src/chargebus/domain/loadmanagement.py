"""The load manager's rules besides the division itself (chargebus.domain.allocation):
how the events of a site change its record (chargebus.state.records.SiteAllocation),
what each EVSE may draw today on what it was told, and the order of the changes that
take a site from what its stations were told to the new allocation.

What an EVSE may draw (its ceiling) is what its station would let a car draw without
asking chargebus again: its session's TxProfile limit, else its TxDefaultProfile limit,
else (nothing accepted) its maximum; a call under way counts as taken until answered.
Changes are made in two steps: every lowering first, and only once they are all
accepted the raises, so that the sum of the ceilings never exceeds a limit, not even
between two calls. A station that does not take a lowering is counted at its maximum
from then on and the division is made again without it.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from chargebus.domain.allocation import Allocation, Demand
from chargebus.domain.profiles import Purpose, RateUnit
from chargebus.domain.topology import Evse, Site
from chargebus.state.records import (EvseControl, ExternalLimit, GroupLimit, SiteAllocation,
                                     SiteSession, Uncontrolled)

# The station calls whose recorded copies change a site's sessions or limits, or make
# the load manager divide it again.
EVENT_ACTIONS = ("StartTransaction", "StopTransaction", "TransactionEvent", "MeterValues",
                 "StatusNotification", "NotifyEVChargingNeeds", "NotifyChargingLimit",
                 "ClearedChargingLimit")
# Ended transactions remembered per site, so that a start delivered after its stop (two
# consumers, a redelivery) makes no session.
ENDED_KEPT = 200
# A car draws on a phase where its meter shows more than this.
DRAWING = 1.0
# A car follows a new limit within 5 s (IEC 61851-1); what it drew before that says
# nothing of what it would draw under its new share.
SETTLING = timedelta(seconds=5)
# A change of what a car draws smaller than this is not written: each write divides
# the site again, and lending is decided in steps of 2 A (allocation.LEND_MARGIN).
READING_STEP = 1.0
# Changes smaller than this are not sent: the stations' meters and the cars' own
# control are no finer.
SMALLEST_CHANGE = 0.5


def label(station_id: str, evse_id: int) -> str:
    return f"{station_id}/{evse_id}"


def with_started(record: SiteAllocation, session: SiteSession) -> SiteAllocation | None:
    """A transaction began at an EVSE of the site (a later one at the same EVSE replaces
    the one there: its end was lost or is still to come); None where nothing changes."""
    ended = f"{session.station_id}/{session.transaction_id}"
    if ended in record.ended or any(
            each.station_id == session.station_id
            and each.transaction_id == session.transaction_id for each in record.sessions):
        return None
    kept = [each for each in record.sessions
            if (each.station_id, each.evse_id) != (session.station_id, session.evse_id)]
    return record.model_copy(update={"sessions": [*kept, session]})


def with_ended(record: SiteAllocation, station_id: str, transaction_id: str
               ) -> SiteAllocation | None:
    ended = f"{station_id}/{transaction_id}"
    if ended in record.ended:
        return None
    return record.model_copy(update={
        "sessions": [each for each in record.sessions
                     if (each.station_id, each.transaction_id) != (station_id, transaction_id)],
        "ended": [*record.ended, ended][-ENDED_KEPT:]})


def with_reading(record: SiteAllocation, station_id: str, evse_id: int | None,
                 transaction_id: str, currents: dict[str, float], now: datetime
                 ) -> SiteAllocation | None:
    """A session's meter values: the phases its car draws on and the most it draws;
    None where nothing changed that matters to the division: the phases, what it draws
    (by READING_STEP), or a first reading since its share changed."""
    if not currents:
        return None
    drawing = [value for value in currents.values() if value > DRAWING]
    drawn = max(currents.values())
    changed = False
    sessions = []
    for each in record.sessions:
        if each.station_id == station_id and (
                each.transaction_id == transaction_id
                or (not transaction_id and each.evse_id == evse_id)):
            car_phases = len(drawing) if drawing else each.car_phases
            granted_at = record.granted_at.get(label(each.station_id, each.evse_id))
            if (car_phases != each.car_phases or each.drawn is None
                    or abs(drawn - each.drawn) >= READING_STEP
                    or (granted_at is not None and each.drawn_at is not None
                        and each.drawn_at < granted_at + SETTLING)):
                each = each.model_copy(update={"drawn": drawn, "drawn_at": now,
                                               "car_phases": car_phases})
                changed = True
        sessions.append(each)
    return record.model_copy(update={"sessions": sessions}) if changed else None


def with_needs(record: SiteAllocation, station_id: str, evse_id: int, car_max: float | None,
               energy_wh: float | None, departure: datetime | None, car_phases: int | None
               ) -> SiteAllocation | None:
    """2.x NotifyEVChargingNeeds of the session at an EVSE."""
    sessions = []
    changed = False
    for each in record.sessions:
        if (each.station_id, each.evse_id) == (station_id, evse_id):
            each = each.model_copy(update={
                "car_max": car_max, "energy_wh": energy_wh, "departure": departure,
                "car_phases": car_phases or each.car_phases})
            changed = True
        sessions.append(each)
    return record.model_copy(update={"sessions": sessions}) if changed else None


def needed_current(energy_wh: float, departure: datetime, now: datetime, voltage: float,
                   phases: int) -> float | None:
    """The average current per phase that delivers ``energy_wh`` by ``departure``."""
    hours = (departure - now).total_seconds() / 3600
    if hours <= 0 or energy_wh <= 0:
        return None
    return energy_wh / hours / (voltage * phases)


def limits_in_force(limits: list[GroupLimit], now: datetime, ahead: timedelta
                    ) -> dict[str, float]:
    """The lowest temporary limit of each group in force now or within ``ahead`` (the
    load manager's period: a limit is in place before it begins), and none that ended."""
    lowest: dict[str, float] = {}
    for limit in limits:
        if limit.starts <= now + ahead and limit.ends > now:
            lowest[limit.group_id] = min(lowest.get(limit.group_id, limit.amperes),
                                         limit.amperes)
    return lowest


def demands(record: SiteAllocation, site: Site, now: datetime) -> list[Demand]:
    """The sessions at the site's EVSEs, with what each was last given, what it needs by
    its departure (from ``now``), and any limit a station reported from outside (2.x
    NotifyChargingLimit) as its car's maximum."""
    evses = {evse.key: evse for evse in site.evses}
    station_evses: dict[str, int] = {}
    for each in site.evses:
        station_evses[each.station_id] = station_evses.get(each.station_id, 0) + 1
    result = []
    for session in record.sessions:
        key = (session.station_id, session.evse_id)
        evse = evses.get(key)
        if evse is None:
            continue
        group = site.group(evse.group_id)
        phases = session.car_phases or len(evse.phases)
        station_wide = _amperes(record.external.get(label(session.station_id, 0)),
                                group.voltage, phases)
        caps = [cap for cap in (
            session.car_max, _amperes(record.external.get(label(*key)), group.voltage, phases),
            # A limit of the whole station, shared evenly: never more than it in all.
            None if station_wide is None else station_wide / station_evses[session.station_id])
            if cap is not None]
        needed = None
        if session.energy_wh is not None and session.departure is not None:
            needed = needed_current(session.energy_wh, session.departure, now, group.voltage,
                                    phases)
        granted_at = record.granted_at.get(label(*key))
        settled = (session.drawn_at is not None
                   and (granted_at is None or session.drawn_at >= granted_at + SETTLING))
        result.append(Demand(
            station_id=session.station_id, evse_id=session.evse_id,
            transaction_id=session.transaction_id, arrived_at=session.started_at,
            car_phases=session.car_phases, drawn=session.drawn if settled else None,
            granted=record.shares.get(label(*key)),
            car_max=min(caps) if caps else None, needed=needed))
    return result


def _amperes(limit: ExternalLimit | None, voltage: float, phases: int) -> float | None:
    if limit is None:
        return None
    if limit.unit is RateUnit.AMPERES:
        return limit.limit
    return limit.limit / (voltage * phases)


def controls(record: SiteAllocation, evse: Evse) -> EvseControl:
    for control in record.evses:
        if (control.station_id, control.evse_id) == evse.key:
            return control
    return EvseControl(station_id=evse.station_id, evse_id=evse.evse_id)


def session_at(record: SiteAllocation, evse: Evse) -> SiteSession | None:
    return next((each for each in record.sessions
                 if (each.station_id, each.evse_id) == evse.key), None)


def ceiling(record: SiteAllocation, evse: Evse) -> float:
    """The most the EVSE's station lets a car draw there without asking again."""
    control = controls(record, evse)
    session = session_at(record, evse)
    told: float | None = control.default_limit
    if (session is not None and control.tx_limit is not None
            and control.tx_transaction == session.transaction_id):
        told = control.tx_limit
    limit = evse.max_current if told is None else min(told, evse.max_current)
    if control.pending is not None:
        limit = max(limit, min(control.pending, evse.max_current))
    return limit


@dataclass(frozen=True, slots=True)
class Change:
    """One profile to send: the TxProfile of a session or the TxDefaultProfile of an
    EVSE, with its new limit (A per phase)."""

    evse: Evse
    purpose: Purpose
    limit: float
    transaction_id: str | None
    lowers: bool


def changes(record: SiteAllocation, site: Site, allocation: Allocation,
            uncontrolled: set[str]) -> list[Change]:
    """What takes each controlled EVSE from what it was told to its new share: a
    session's TxProfile, an idle EVSE's TxDefaultProfile. An EVSE whose station has
    accepted nothing yet, or refused, is lowered from its maximum."""
    result = []
    for evse in site.evses:
        if evse.station_id in uncontrolled:
            continue
        control = controls(record, evse)
        session = session_at(record, evse)
        now_at = ceiling(record, evse)
        if session is not None:
            share = allocation.sessions.get(evse.key)
            if share is None:
                continue
            target = share.amperes
            told = (control.tx_limit if control.tx_transaction == session.transaction_id
                    else None)
            if _close_enough(told, target, now_at):
                continue
            result.append(Change(evse, Purpose.TX, target, session.transaction_id,
                                 target < now_at))
        else:
            default = allocation.defaults.get(evse.key)
            if default is None:
                continue
            if _close_enough(control.default_limit, default, now_at):
                continue
            result.append(Change(evse, Purpose.TX_DEFAULT, default, None, default < now_at))
    return result


def _close_enough(told: float | None, target: float, ceiling_now: float) -> bool:
    """Whether what was told may stay: never above the target, and a raise too small to
    matter is not sent."""
    return (told is not None and ceiling_now <= told
            and 0 <= target - told < SMALLEST_CHANGE)


def with_told(record: SiteAllocation, change: Change, accepted: bool | None
              ) -> SiteAllocation:
    """The record once a change is sent (``accepted`` None: under way), accepted or not.
    A change not taken leaves what was told before: the station keeps its profile."""
    key = change.evse.key
    control = next((each for each in record.evses
                    if (each.station_id, each.evse_id) == key),
                   EvseControl(station_id=key[0], evse_id=key[1]))
    if accepted is None:
        control = control.model_copy(update={"pending": change.limit})
    elif not accepted:
        control = control.model_copy(update={"pending": None})
    elif change.purpose is Purpose.TX:
        control = control.model_copy(update={"tx_limit": change.limit, "pending": None,
                                             "tx_transaction": change.transaction_id})
    else:
        control = control.model_copy(update={"default_limit": change.limit, "pending": None})
    kept = [each for each in record.evses if (each.station_id, each.evse_id) != key]
    return record.model_copy(update={"evses": [*kept, control]})


def with_answer(record: SiteAllocation, change: Change, taken: bool, why: str,
                now: datetime) -> SiteAllocation:
    """The record once the station answered a change (or could not). A station that did
    not take one is counted at its maximum until it is tried again, unless what it
    refused was a session's TxProfile while its TxDefaultProfile holds: the session has
    most likely just ended (the station rejects a profile of a transaction it no longer
    runs), and the division under way counts it at its maximum alone."""
    record = with_told(record, change, taken)
    station_id = change.evse.station_id
    if taken:
        return with_controlled(record, station_id)
    if change.purpose is Purpose.TX and (
            session_at(record, change.evse) is None
            or controls(record, change.evse).default_limit is not None):
        return record
    return with_uncontrolled(record, station_id, why, now)


def with_uncontrolled(record: SiteAllocation, station_id: str, why: str, now: datetime
                      ) -> SiteAllocation:
    """The station counted at its maximum from ``now`` on (or still, since it first
    failed), to be tried again later."""
    before = record.uncontrolled.get(station_id)
    state = Uncontrolled(since=before.since if before else now, tried_at=now, why=why)
    return record.model_copy(update={"uncontrolled": record.uncontrolled | {station_id: state}})


def with_controlled(record: SiteAllocation, station_id: str) -> SiteAllocation:
    if station_id not in record.uncontrolled:
        return record
    return record.model_copy(update={"uncontrolled": {
        key: value for key, value in record.uncontrolled.items() if key != station_id}})


def with_shares(record: SiteAllocation, allocation: Allocation, now: datetime
                ) -> SiteAllocation:
    """The record with the division's shares, each with when it last changed."""
    shares = {label(*key): share.amperes for key, share in allocation.sessions.items()}
    granted_at = {key: (record.granted_at[key] if record.shares.get(key) == amperes
                        and key in record.granted_at else now)
                  for key, amperes in shares.items()}
    return record.model_copy(update={
        "shares": shares, "granted_at": granted_at,
        "queue": [label(*key) for key in allocation.queue], "allocated_at": now})
