"""The load manager: divides each site's grid connection among its sessions
(chargebus.domain.allocation) and tells the stations through TxProfiles and
TxDefaultProfiles (chargebus.domain.loadmanagement says in which order).

Any number of workers run it. The events of a site's stations (transactions, meter
values, EV charging needs, external limits) change the site's record in KV with
compare-and-set, whichever worker reads them; the division and the calls are made by one
worker at a time, the holder of the site's lease (in the same record). A change that
comes while another worker holds the lease marks the record, and the holder divides
again before it lets go. A holder that dies leaves its lease to run out; the next event
or the period after it goes to another worker, which reads what was told (a call under
way counts as taken) and goes on from there.
"""
import asyncio
import functools
import logging
import os
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from chargebus.bus import events, subjects
from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters
from chargebus.bus.events import CallContext
from chargebus.domain import loadmanagement as rules
from chargebus.domain.allocation import Allocation, allocate
from chargebus.domain.model import TransactionEventKind
from chargebus.domain.operations import SetChargingProfile
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Kind, Purpose,
                                       RateUnit, SchedulePeriod)
from chargebus.domain.topology import Site
from chargebus.meter.readings import phase_currents
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.ocpp.v2x.profiles import charging_limit, charging_needs
from chargebus.operations.perform import Performed, perform
from chargebus.runtime.config import Settings
from chargebus.runtime.periodic import Periodic
from chargebus.state.records import ExternalLimit, SiteAllocation, SiteSession
from chargebus.state.stores import (Stores, allocation_key, member_key, site_key, sites,
                                    transaction_key)

log = logging.getLogger(__name__)

# A change an event makes to its site's record (None: none).
RecordChange = Callable[[SiteAllocation], SiteAllocation | None]

SENDER = "workers:load-manager"
# The load manager's profiles have ids of their own per EVSE: a new one replaces the old
# on the station (same id), and none is taken for an operator's.
PROFILE_ID_BASE = 1_900_000_000
# How long a holder may go without renewing its lease before another takes over.
LEASE = timedelta(seconds=5)
# How many times a division is made again in one go when stations refuse lowerings.
MAX_ROUNDS = 4
# A session is checked against its transaction's record once it is this many periods
# old: the transactions consumer writes that record at about the time the load manager
# hears of the start.
SETTLING_PERIODS = 3
# How long a station's site is remembered by a worker.
MEMBERSHIP_TTL = 5.0


def profile_id(evse_id: int, purpose: Purpose) -> int:
    return PROFILE_ID_BASE + evse_id * 2 + (1 if purpose is Purpose.TX else 0)


class LoadManager:
    def __init__(self, nc: Client, stores: Stores, settings: Settings,
                 dead_letters: DeadLetters):
        self._nc = nc
        self._stores = stores
        self._settings = settings
        self._dead_letters = dead_letters
        # The process id tells an operator (and a test) which worker holds a lease.
        self._id = f"load-manager-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._period = timedelta(seconds=settings.load_manager_period_seconds)
        self._members: dict[str, tuple[float, str | None]] = {}
        self._working: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()
        self._ticks = Periodic(settings.load_manager_period_seconds, self._divide_every_site,
                               "dividing every site", log)
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(
            subjects.site_reallocation(), queue=subjects.queue_group("load-manager"),
            cb=self._asked)
        self._ticks.start()

    async def stop(self) -> None:
        self._ticks.stop()
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        tasks = list(self._working.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- events ----------------------------------------------------------------------------

    async def record_events(self, batch: list[BusMsg]) -> None:
        for msg in batch:
            try:
                context = CallContext.from_headers(msg.headers)
                payload = orjson.loads(msg.data)
                answer = (msg.headers or {}).get(events.ANSWER)
                site_id = await self._site_of(context.station_id)
                if site_id is None:
                    continue
                if context.action == "StatusNotification":
                    # A station back, an EVSE out of order or free: the division may
                    # change (who is online is read when it is made).
                    self.divide_soon(site_id)
                    continue
                change = self._change_of(context, payload,
                                         orjson.loads(answer) if answer else None)
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable event: {error!r}")
                continue
            if change is None:
                continue
            changed: list[bool] = []
            await self._stores.allocations.modify(
                functools.partial(_changed, site_id=site_id, change=change, changed=changed),
                *allocation_key(site_id))
            if changed and changed[-1]:
                self.divide_soon(site_id)

    def _change_of(self, context: CallContext, payload: dict, answer: dict | None
                   ) -> RecordChange | None:
        """What the call changes in its site's record, as a function of the record."""
        station_id, action = context.station_id, context.action
        if action in ("StartTransaction", "StopTransaction", "TransactionEvent"):
            event = converter(context.version).transaction_event(action, payload, answer)
            if event is None:
                return None
            # A 2.x TransactionEvent may carry meter values; 1.6 starts and stops carry
            # only the register.
            currents = (phase_currents(context.version, action, payload)[1]
                        if action == "TransactionEvent" else {})
            if event.kind is TransactionEventKind.ENDED:
                return functools.partial(rules.with_ended, station_id=station_id,
                                         transaction_id=event.transaction_id)
            if event.evse_id is None:
                return _reading(station_id, None, event.transaction_id, currents)
            session = SiteSession(station_id=station_id, evse_id=event.evse_id,
                                  transaction_id=event.transaction_id,
                                  started_at=event.timestamp)

            def started(record: SiteAllocation) -> SiteAllocation | None:
                with_session = rules.with_started(record, session) or record
                return (rules.with_reading(with_session, station_id, event.evse_id,
                                           event.transaction_id, currents, utc_now())
                        or (with_session if with_session is not record else None))
            return started
        if action == "MeterValues":
            where, currents = phase_currents(context.version, action, payload)
            return _reading(station_id, where.evse_id, where.transaction_id, currents)
        if action == "NotifyEVChargingNeeds":
            evse_id, car_max, energy, departure, car_phases = charging_needs(payload)

            return functools.partial(rules.with_needs, station_id=station_id, evse_id=evse_id,
                                     car_max=car_max, energy_wh=energy, departure=departure,
                                     car_phases=car_phases)
        if action == "NotifyChargingLimit":
            evse_id, schedule = charging_limit(payload)
            if schedule is None:
                return None
            # The lowest of its schedule: what it allows at any time.
            limit = ExternalLimit(limit=min(period.limit for period in schedule.periods),
                                  unit=schedule.unit,
                                  source=payload["chargingLimit"]["chargingLimitSource"])
            key = rules.label(station_id, evse_id)

            def limited(record: SiteAllocation) -> SiteAllocation | None:
                return record.model_copy(update={"external": record.external | {key: limit}})
            return limited
        if action == "ClearedChargingLimit":
            cleared_evse = payload.get("evseId")

            def cleared(record: SiteAllocation) -> SiteAllocation | None:
                kept = {key: value for key, value in record.external.items()
                        if not (key.rpartition("/")[0] == station_id and (
                            cleared_evse is None
                            or key == rules.label(station_id, cleared_evse)))}
                return record.model_copy(update={"external": kept}) \
                    if kept != record.external else None
            return cleared
        return None

    async def _site_of(self, station_id: str) -> str | None:
        loop = asyncio.get_running_loop()
        known = self._members.get(station_id)
        if known is not None and known[0] > loop.time():
            return known[1]
        member = await self._stores.site_members.get(*member_key(station_id))
        site_id = member.site_id if member else None
        self._members[station_id] = (loop.time() + MEMBERSHIP_TTL, site_id)
        return site_id

    async def _asked(self, msg: Msg) -> None:
        site_id = msg.data.decode()
        self.divide_soon(site_id)
        if msg.reply:
            await self._nc.publish(msg.reply, b"")

    async def _divide_every_site(self) -> None:
        for record in await self._stores.sites.all(*sites()):
            await self._forget_ended(record.site.site_id)
            self.divide_soon(record.site.site_id)

    async def _forget_ended(self, site_id: str) -> None:
        """Sessions whose end never reached the load manager (a stop lost with its
        station's connection, a consumer's message given up on) but which the
        transactions record as ended, or which chargebus closed by its own rules."""
        record = await self._stores.allocations.get(*allocation_key(site_id))
        if record is None:
            return
        settled = utc_now() - SETTLING_PERIODS * self._period
        older = [each for each in record.sessions if each.started_at < settled]
        transactions = await asyncio.gather(*(
            self._stores.transactions.get(*transaction_key(each.station_id,
                                                           each.transaction_id))
            for each in older))
        for session, transaction in zip(older, transactions, strict=True):
            if transaction is not None and not transaction.active:
                log.info("site %s: %s transaction %s ended unheard; it counts no more",
                         site_id, session.station_id, session.transaction_id)
                await self._stores.allocations.modify(
                    functools.partial(_ended, station_id=session.station_id,
                                      transaction_id=session.transaction_id),
                    *allocation_key(site_id))

    # -- dividing --------------------------------------------------------------------------

    def divide_soon(self, site_id: str) -> None:
        """Divide the site now, or once more after the division under way here."""
        if site_id in self._working:
            self._again.add(site_id)
            return
        task = asyncio.create_task(self._divide(site_id))
        self._working[site_id] = task
        task.add_done_callback(lambda _: self._working.pop(site_id, None))

    async def _divide(self, site_id: str) -> None:
        try:
            while True:
                self._again.discard(site_id)
                if not await self._lease(site_id):
                    return
                await self._divide_once(site_id)
                if not await self._release(site_id) and site_id not in self._again:
                    return
        except Exception:
            log.exception("dividing site %s failed", site_id)

    async def _lease(self, site_id: str) -> bool:
        """Take the site's lease, or mark the record for its holder to divide again."""
        now = utc_now()

        def take(record: SiteAllocation | None) -> SiteAllocation:
            record = record or SiteAllocation(site_id=site_id)
            if (record.holder not in (None, self._id) and record.lease_until is not None
                    and record.lease_until > now):
                return record.model_copy(update={"dirty": True})
            return record.model_copy(update={"holder": self._id, "lease_until": now + LEASE,
                                             "dirty": False})
        record = await self._stores.allocations.modify(take, *allocation_key(site_id))
        return record is not None and record.holder == self._id

    async def _release(self, site_id: str) -> bool:
        """Let go of the lease; True (and keep it) where a change came in meanwhile."""
        again = False

        def release(record: SiteAllocation | None) -> SiteAllocation | None:
            nonlocal again
            if record is None or record.holder != self._id:
                return None
            if record.dirty:
                again = True
                return record.model_copy(update={"dirty": False,
                                                 "lease_until": utc_now() + LEASE})
            return record.model_copy(update={"holder": None, "lease_until": None})
        await self._stores.allocations.modify(release, *allocation_key(site_id))
        return again

    async def _divide_once(self, site_id: str) -> None:
        """One division and the calls that make it, made again without the stations that
        refuse a lowering."""
        stores = self._stores
        site_record = await stores.sites.get(*site_key(site_id))
        if site_record is None:
            return
        site = site_record.site
        refusing: set[str] = set()  # refused a lowering in this division
        for _ in range(MAX_ROUNDS):
            record = await self._renewed(site_id)
            if record is None:
                return
            now = utc_now()
            offline = await self._offline(site)
            retry = timedelta(seconds=self._settings.load_manager_retry_seconds)
            uncontrolled = offline | refusing | {
                station for station, state in record.uncontrolled.items()
                if now - state.tried_at < retry}
            allocation = allocate(
                site, rules.demands(record, site, now),
                uncontrolled=[evse.key for evse in site.evses
                              if evse.station_id in uncontrolled],
                limits=rules.limits_in_force(record.limits, now, self._period))
            planned = rules.changes(record, site, allocation, uncontrolled)
            refused = await self._send(site_id, [c for c in planned if c.lowers])
            if refused:
                refusing |= refused
                continue  # divide again, those counted at their maximum
            await self._send(site_id, [c for c in planned if not c.lowers])
            await stores.allocations.modify(
                functools.partial(_with_shares, site_id=site_id, allocation=allocation),
                *allocation_key(site_id))
            return
        log.warning("site %s: stations kept refusing lowerings; divided again at the next "
                    "change or period", site_id)

    async def _renewed(self, site_id: str) -> SiteAllocation | None:
        def renew(record: SiteAllocation | None) -> SiteAllocation | None:
            if record is None or record.holder != self._id:
                return None
            return record.model_copy(update={"lease_until": utc_now() + LEASE})
        record = await self._stores.allocations.modify(renew, *allocation_key(site_id))
        return record if record is not None and record.holder == self._id else None

    async def _offline(self, site: Site) -> set[str]:
        stations = sorted(site.stations())
        presences = await asyncio.gather(*(self._stores.presence.get(station)
                                           for station in stations))
        return {station for station, presence in zip(stations, presences, strict=True)
                if presence is None or not presence.online}

    async def _send(self, site_id: str, planned: list[rules.Change]) -> set[str]:
        """Send the changes at once (each counted as told before it is sent); the
        stations that did not take theirs."""
        if not planned:
            return set()
        key = allocation_key(site_id)
        await self._stores.allocations.modify(
            functools.partial(_under_way, changes=planned), *key)
        performed = await asyncio.gather(*(self._set(change) for change in planned))
        answers = [(change, outcome.taken, _why(outcome))
                   for change, outcome in zip(planned, performed, strict=True)]
        await self._stores.allocations.modify(
            functools.partial(_answered, answers=answers, now=utc_now()), *key)
        refused = set()
        for change, taken, why in answers:
            if not taken:
                refused.add(change.evse.station_id)
                # A TxProfile is refused, most of the time, because its transaction has
                # just ended at the station: no news for an operator.
                log.log(logging.INFO if change.purpose is Purpose.TX else logging.WARNING,
                        "%s EVSE %d did not take its %s of %.1f A: %s",
                        change.evse.station_id, change.evse.evse_id, change.purpose.value,
                        change.limit, why)
        return refused

    async def _set(self, change: rules.Change) -> Performed:
        profile = ChargingProfile(
            profile_id=profile_id(change.evse.evse_id, change.purpose),
            stack_level=self._settings.load_manager_stack_level, purpose=change.purpose,
            kind=Kind.RELATIVE, transaction_id=change.transaction_id,
            schedule=ChargingSchedule(unit=RateUnit.AMPERES, periods=(
                SchedulePeriod(start_period=0, limit=change.limit),)))
        return await perform(self._nc, change.evse.station_id,
                             SetChargingProfile(evse_id=change.evse.evse_id, profile=profile),
                             sender=SENDER,
                             timeout=self._settings.load_manager_call_timeout_seconds)


def _reading(station_id: str, evse_id: int | None, transaction_id: str,
             currents: dict[str, float]) -> RecordChange | None:
    if not currents:
        return None
    return functools.partial(rules.with_reading, station_id=station_id, evse_id=evse_id,
                             transaction_id=transaction_id, currents=currents, now=utc_now())


def _ended(record: SiteAllocation | None, station_id: str, transaction_id: str
           ) -> SiteAllocation | None:
    return rules.with_ended(record, station_id, transaction_id) if record else None


def _changed(record: SiteAllocation | None, site_id: str, change: RecordChange,
             changed: list[bool]) -> SiteAllocation | None:
    """The change applied; ``changed`` tells, for the last attempt, whether it changed
    anything (only then is the site divided again)."""
    result = change(record or SiteAllocation(site_id=site_id))
    changed.append(result is not None)
    return result


def _under_way(record: SiteAllocation | None, changes: list[rules.Change]
               ) -> SiteAllocation | None:
    if record is None:
        return None
    for change in changes:
        record = rules.with_told(record, change, None)
    return record


def _answered(record: SiteAllocation | None, answers: list[tuple[rules.Change, bool, str]],
              now: datetime) -> SiteAllocation | None:
    if record is None:
        return None
    for change, taken, why in answers:
        record = rules.with_answer(record, change, taken, why, now)
    return record


def _why(performed: Performed) -> str:
    if performed.result is not None:
        return performed.result.status
    return f"{performed.outcome.value}: {performed.reason}"


def _with_shares(record: SiteAllocation | None, site_id: str, allocation: Allocation
                 ) -> SiteAllocation:
    return rules.with_shares(record or SiteAllocation(site_id=site_id), allocation, utc_now())

