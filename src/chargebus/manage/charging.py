"""Sites for the load manager, their temporary limits, and an EVSE's composite schedule
as chargebus computes it from the profiles it keeps: for the command line and the HTTP
API alike. Each change asks the load manager to divide the site again at once."""
from datetime import datetime

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from chargebus.bus import subjects
from chargebus.domain.composite import CompositeSchedule, Transaction, composite_schedule
from chargebus.domain.profiles import InstalledProfile, RateUnit
from chargebus.domain.topology import Site
from chargebus.operations import audit
from chargebus.state.fleet import active_at
from chargebus.state.records import GroupLimit, SiteAllocation, SiteMember, SiteRecord
from chargebus.state.stores import Stores, allocation_key, member_key, site_key

RESOURCE = "sites"
# Where no profile and no site says how much an EVSE may draw: the most a 3-phase
# Mode 3 socket carries (IEC 62196-2 type 2: 63 A).
UNKNOWN_MAXIMUM = 63.0


class SiteRefused(ValueError):
    """What a site's change cannot be, in one line."""


async def define_site(stores: Stores, nc: Client, site: Site, sender: str, now: datetime
                      ) -> None:
    """Define a site or change its definition; SiteRefused where one of its stations is
    in another site."""
    for station in sorted(site.stations()):
        member = await stores.site_members.get(*member_key(station))
        if member is not None and member.site_id != site.site_id:
            raise SiteRefused(f"{station} is in site {member.site_id} (remove it there "
                              "first)")
    before = await stores.sites.get(*site_key(site.site_id))
    await stores.sites.put(SiteRecord(site=site, changed_by=sender, changed_at=now),
                           *site_key(site.site_id))
    for station in sorted(site.stations()):
        await stores.site_members.put(SiteMember(station_id=station, site_id=site.site_id),
                                      *member_key(station))
    if before is not None:
        for station in sorted(before.site.stations() - site.stations()):
            await stores.site_members.delete(*member_key(station))
    await audit.record_change(nc.jetstream(), audit.change(
        sender, RESOURCE, "define", site.site_id, site.model_dump(mode="json")))
    await ask_division(nc, site.site_id)


async def remove_site(stores: Stores, nc: Client, site_id: str, sender: str) -> bool:
    """False where there is no such site."""
    record = await stores.sites.get(*site_key(site_id))
    if record is None:
        return False
    for station in sorted(record.site.stations()):
        await stores.site_members.delete(*member_key(station))
    await stores.sites.delete(*site_key(site_id))
    await audit.record_change(nc.jetstream(), audit.change(sender, RESOURCE, "remove",
                                                           site_id))
    return True


async def set_limit(stores: Stores, nc: Client, site_id: str, group: str | None,
                    amperes: float, starts: datetime, ends: datetime, sender: str,
                    now: datetime) -> GroupLimit:
    """A temporary limit of a group of the site (default: the site's own); SiteRefused
    where there is no such site or group, or it ends before it starts."""
    if ends <= starts:
        raise SiteRefused("it ends before it starts")
    site = await stores.sites.get(*site_key(site_id))
    if site is None:
        raise SiteRefused(f"no site {site_id}")
    group = group or site_id
    if all(each.group_id != group for each in site.site.groups):
        raise SiteRefused(f"site {site_id} has no group {group}")
    limit = GroupLimit(group_id=group, amperes=amperes, starts=starts, ends=ends,
                       set_by=sender)
    await stores.allocations.modify(
        lambda record: (record or SiteAllocation(site_id=site_id)).model_copy(
            update={"limits": [*(each for each in (record.limits if record else [])
                                 if each.ends > now), limit]}),
        *allocation_key(site_id))
    await audit.record_change(nc.jetstream(), audit.change(
        sender, RESOURCE, "limit", site_id, limit.model_dump(mode="json")))
    await ask_division(nc, site_id)
    return limit


async def lift_limits(stores: Stores, nc: Client, site_id: str, group: str | None,
                      sender: str) -> None:
    """Lift the site's temporary limits: those of ``group``, or every one."""
    def without(record: SiteAllocation | None) -> SiteAllocation | None:
        if record is None:
            return None
        kept = [each for each in record.limits
                if group is not None and each.group_id != group]
        return record.model_copy(update={"limits": kept})
    await stores.allocations.modify(without, *allocation_key(site_id))
    await audit.record_change(nc.jetstream(), audit.change(
        sender, RESOURCE, "unlimit", site_id, {"group": group}))
    await ask_division(nc, site_id)


async def ask_division(nc: Client, site_id: str) -> bool:
    """Ask the load manager to divide the site now; False where no worker answered (the
    next one to start will)."""
    try:
        await nc.request(subjects.site_reallocation(), site_id.encode(), timeout=2)
    except (NoRespondersError, NatsTimeoutError):
        return False
    return True


async def our_composite(stores: Stores, station_id: str, evse_id: int, duration: int,
                        unit: RateUnit, now: datetime) -> CompositeSchedule:
    """The EVSE's composite schedule from the profiles chargebus keeps of the station,
    capped by its site's maximum for the EVSE, with the transaction under way there."""
    record = await stores.profiles.get(station_id)
    member = await stores.site_members.get(*member_key(station_id))
    maximum = UNKNOWN_MAXIMUM
    if member is not None:
        site = await stores.sites.get(*site_key(member.site_id))
        evses = site.site.evses if site else ()
        maximum = next((evse.max_current for evse in evses
                        if evse.key == (station_id, evse_id)), maximum)
    running = next((each for each in await active_at(stores, station_id)
                    if each.evse_id == evse_id), None)
    transaction = (Transaction(running.transaction_id,
                               running.started_at or running.first_event_at or now)
                   if running else None)
    profiles = [InstalledProfile(evse_id=each.evse_id, profile=each.profile)
                for each in (record.profiles if record else [])]
    return composite_schedule(profiles, evse_id, now, duration, unit, maximum=maximum,
                              transaction=transaction)
