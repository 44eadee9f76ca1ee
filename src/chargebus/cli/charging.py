"""`chargebus charging`: charging profiles sent to stations and kept, the composite
schedule of an EVSE as chargebus and the station compute it, and the sites the load
manager divides.

Profiles are sent as operations (chargebus.operations.perform, the audit trail): exit 0
when the station took it, 1 when it did not or could not answer, 2 when chargebus refused
it. Sites are defined from a JSON document of chargebus.domain.topology.Site.
"""
import argparse
import sys
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from chargebus.cli.common import (print_json, problem_of, seconds, sender, station_id,
                                  timestamp, whole_number, with_stores)
from chargebus.cli.operations import operation_command
from chargebus.domain.composite import CompositeSchedule
from chargebus.domain.loadmanagement import label
from chargebus.domain.operations import (ClearChargingProfile, GetChargingProfiles,
                                         GetCompositeSchedule, SetChargingProfile)
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Kind, Purpose,
                                       RateUnit, Recurrency, SchedulePeriod)
from chargebus.domain.topology import Site
from chargebus.manage import charging
from chargebus.ocpp.clock import utc_now
from chargebus.operations.commands import DEFAULT_TIMEOUT
from chargebus.operations.perform import perform
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores, allocation_key, site_key, sites

EVSE_OR_STATION = whole_number(0)
# 1.6's name of the station-wide maximum, taken as well as 2.x's.
_PURPOSE_WORDS = {purpose.value: purpose for purpose in Purpose} | {
    "ChargePointMaxProfile": Purpose.STATION_MAX}


def register(commands) -> None:
    charging = commands.add_parser(
        "charging", help="smart charging: profiles, schedules, sites"
    ).add_subparsers(title="charging")
    profile = charging.add_parser(
        "profile", help="send, clear or fetch a station's charging profiles"
    ).add_subparsers(title="profile")

    install = operation_command(profile, "set", "install a charging profile on an EVSE")
    install.add_argument("--evse", type=EVSE_OR_STATION, required=True,
                         help="the EVSE (1.6: connector), 0 for the whole station")
    install.add_argument("--id", type=whole_number(0), required=True, dest="profile_id",
                         help="the profile's id: one of the same id on the station is replaced")
    install.add_argument("--purpose", type=_purpose, required=True,
                         help="ChargingStationMaxProfile (1.6 ChargePointMaxProfile), "
                              "TxDefaultProfile, TxProfile, ChargingStationExternalConstraints")
    install.add_argument("--stack", type=whole_number(0), default=0, dest="stack_level",
                         help="stack level: the highest valid one of a purpose wins (default 0)")
    install.add_argument("--kind", choices=[kind.value for kind in Kind],
                         default=Kind.ABSOLUTE.value)
    install.add_argument("--recurrency", choices=[kind.value for kind in Recurrency],
                         help="of a Recurring profile")
    install.add_argument("--unit", choices=[unit.value for unit in RateUnit], required=True,
                         help="A (per phase) or W (over all phases)")
    install.add_argument("--period", type=_period, action="append", required=True,
                         metavar="START:LIMIT[:PHASES]",
                         help="seconds from the schedule's start, its limit, and its phase "
                              "count; once per period, in order")
    install.add_argument("--start", type=timestamp, dest="start_schedule",
                         help="RFC 3339 start of an Absolute or Recurring schedule")
    install.add_argument("--duration", type=whole_number(0),
                         help="seconds the schedule lasts (default: its last period forever)")
    install.add_argument("--valid-from", type=timestamp)
    install.add_argument("--valid-to", type=timestamp)
    install.add_argument("--transaction", help="a TxProfile's transaction")
    install.add_argument("--min-rate", type=float, help="the least rate the EVSE can charge at")
    install.set_defaults(build=_profile)

    clear = operation_command(profile, "clear",
                              "clear a profile by its id, or those matching every criterion")
    clear.add_argument("--id", type=whole_number(0), dest="profile_id")
    _criteria(clear)
    clear.set_defaults(build=lambda a: ClearChargingProfile(
        profile_id=a.profile_id, evse_id=a.evse, purpose=a.purpose, stack_level=a.stack_level))

    fetch = operation_command(profile, "fetch", "2.x: the station reports the profiles it "
                              "holds (ReportChargingProfiles), which chargebus keeps")
    fetch.add_argument("--id", type=whole_number(0), dest="profile_ids", action="append",
                       default=[], help="this profile only (repeatable)")
    _criteria(fetch)
    fetch.set_defaults(build=lambda a: GetChargingProfiles(
        evse_id=a.evse, purpose=a.purpose, stack_level=a.stack_level,
        profile_ids=a.profile_ids))

    listing = charging.add_parser("profiles", help="the profiles chargebus knows a station holds")
    listing.add_argument("station_id", type=station_id)
    listing.add_argument("--evse", type=EVSE_OR_STATION, help="this EVSE's and the station's")
    listing.add_argument("--refused", action="store_true",
                         help="also the latest profiles the station refused")
    listing.add_argument("--json", action="store_true", help="each as a JSON line")
    listing.set_defaults(command=_list_profiles)

    schedule = charging.add_parser(
        "schedule", help="what an EVSE may draw from now on: chargebus's composite schedule "
                         "of the profiles it knows, and the station's own when asked")
    schedule.add_argument("station_id", type=station_id)
    schedule.add_argument("--evse", type=EVSE_OR_STATION, required=True,
                          help="the EVSE, 0 for the whole station")
    schedule.add_argument("--duration", type=whole_number(1), default=86400,
                          help="seconds from now (default a day)")
    schedule.add_argument("--unit", choices=[unit.value for unit in RateUnit],
                          default=RateUnit.AMPERES.value)
    schedule.add_argument("--ask-station", action="store_true",
                          help="also ask the station (GetCompositeSchedule)")
    schedule.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    schedule.add_argument("--json", action="store_true")
    schedule.set_defaults(command=_schedule)

    site = charging.add_parser(
        "site", help="define and show sites: grid connection, groups, EVSEs and wiring"
    ).add_subparsers(title="site")
    define = site.add_parser("define", help="define a site, or replace its definition, from "
                                            "a JSON document (Site)")
    define.add_argument("file", type=Path, help="the JSON document, - for standard input")
    define.set_defaults(command=_define_site)
    show = site.add_parser("show", help="one site's definition")
    show.add_argument("site_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(command=_show_site)
    site_list = site.add_parser("list", help="every site")
    site_list.set_defaults(command=_list_sites)
    remove = site.add_parser("remove", help="remove a site (its stations are in none after)")
    remove.add_argument("site_id")
    remove.set_defaults(command=_remove_site)

    allocation = charging.add_parser(
        "allocation", help="what the load manager gives each session of a site, and its queue")
    allocation.add_argument("site_id")
    allocation.add_argument("--json", action="store_true")
    allocation.set_defaults(command=_show_allocation)

    limit = charging.add_parser(
        "limit", help="a temporary lower limit of a site or a group (a curtailment)")
    limit.add_argument("site_id")
    limit.add_argument("--group", help="the group it limits (default the site)")
    limit.add_argument("--amperes", type=_amperes, required=True, help="A per phase")
    limit.add_argument("--from", type=timestamp, dest="starts",
                       help="RFC 3339 start (default now)")
    ends = limit.add_mutually_exclusive_group(required=True)
    ends.add_argument("--until", type=timestamp, help="RFC 3339 end")
    ends.add_argument("--minutes", type=whole_number(1), help="how long from its start")
    limit.set_defaults(command=_set_limit)
    lift = charging.add_parser("unlimit", help="lift a site's or a group's temporary limits")
    lift.add_argument("site_id")
    lift.add_argument("--group", help="this group's only (default every group's)")
    lift.set_defaults(command=_lift_limits)


def _purpose(text: str) -> Purpose:
    try:
        return _PURPOSE_WORDS[text]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"purposes are {', '.join(_PURPOSE_WORDS)}, not {text!r}") from None


def _period(text: str) -> SchedulePeriod:
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        return SchedulePeriod(start_period=int(parts[0]), limit=float(parts[1]),
                              number_phases=int(parts[2]) if len(parts) == 3 else None)
    except (ValueError, ValidationError):
        raise argparse.ArgumentTypeError(
            f"a period is START:LIMIT[:PHASES] (seconds, at least 0; a limit of at least 0; "
            f"1 to 3 phases), not {text!r}") from None


def _amperes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"a current of at least 0 A, not {text!r}")
    return value


def _criteria(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--evse", type=EVSE_OR_STATION, help="on this EVSE (0: the station)")
    parser.add_argument("--purpose", type=_purpose)
    parser.add_argument("--stack", type=whole_number(0), dest="stack_level")


def _profile(arguments: argparse.Namespace) -> SetChargingProfile:
    schedule = ChargingSchedule(unit=RateUnit(arguments.unit), periods=tuple(arguments.period),
                                start_schedule=arguments.start_schedule,
                                duration=arguments.duration,
                                min_charging_rate=arguments.min_rate)
    return SetChargingProfile(evse_id=arguments.evse, profile=ChargingProfile(
        profile_id=arguments.profile_id, stack_level=arguments.stack_level,
        purpose=arguments.purpose, kind=Kind(arguments.kind),
        recurrency=Recurrency(arguments.recurrency) if arguments.recurrency else None,
        valid_from=arguments.valid_from, valid_to=arguments.valid_to,
        transaction_id=arguments.transaction, schedule=schedule))


def _list_profiles(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        record = await stores.profiles.get(arguments.station_id)
        if record is None:
            print(f"chargebus charging profiles: chargebus knows no profile of "
                  f"{arguments.station_id}", file=sys.stderr)
            return 1
        shown = record.profiles + (record.refused if arguments.refused else [])
        for stored in shown:
            if arguments.evse is not None and stored.evse_id not in (0, arguments.evse):
                continue
            if arguments.json:
                print_json(stored.model_dump(mode="json", exclude_none=True))
                continue
            profile = stored.profile
            periods = ", ".join(f"{period.start_period}s {period.limit:g} "
                                f"{profile.schedule.unit.value}"
                                + (f" on {period.number_phases}" if period.number_phases else "")
                                for period in profile.schedule.periods)
            print(f"{profile.profile_id} evse {stored.evse_id} {profile.purpose.value} "
                  f"stack {profile.stack_level} {profile.kind.value}"
                  + (f" {profile.recurrency.value}" if profile.recurrency else "")
                  + (f" transaction {profile.transaction_id}" if profile.transaction_id else "")
                  + f": {periods} ({stored.status} from {stored.source} at "
                  f"{stored.at.isoformat(timespec='seconds')})")
        if record.fetch is not None and not arguments.json:
            print(f"fetch {record.fetch.request.request_id} under way: "
                  f"{len(record.fetch.gathered)} profiles reported so far")
        return 0

    return with_stores(settings, show)


def _schedule(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        ours = await charging.our_composite(stores, arguments.station_id, arguments.evse,
                                            arguments.duration, RateUnit(arguments.unit),
                                            utc_now())
        theirs: CompositeSchedule | None = None
        answer = None
        if arguments.ask_station:
            performed = await perform(
                nc, arguments.station_id,
                GetCompositeSchedule(evse_id=arguments.evse, duration=arguments.duration,
                                     unit=RateUnit(arguments.unit)),
                sender=sender(), timeout=arguments.timeout)
            theirs = performed.result.schedule if performed.result else None
            answer = (performed.result.status if performed.result
                      else f"{performed.outcome.value}: {performed.reason}")
        if arguments.json:
            print_json({"chargebus": ours.model_dump(mode="json"),
                        "station": theirs.model_dump(mode="json") if theirs else None,
                        "station_answer": answer})
            return 0
        _print_schedule("chargebus", ours)
        if arguments.ask_station:
            if theirs is None:
                print(f"station: {answer}, no schedule")
                return 1
            _print_schedule("station", theirs)
        return 0

    return with_stores(settings, show)


def _print_schedule(whose: str, schedule: CompositeSchedule) -> None:
    print(f"{whose}: evse {schedule.evse_id} from "
          f"{schedule.start.isoformat(timespec='seconds')} for {schedule.duration} s")
    ends = [period.start_period for period in schedule.periods[1:]] + [schedule.duration]
    for period, end in zip(schedule.periods, ends, strict=True):
        phases = f" on {period.number_phases} phases" if period.number_phases else ""
        print(f"  {period.start_period:>7}s to {end:>7}s  {period.limit:g} "
              f"{schedule.unit.value}{phases}")


def _define_site(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        text = (sys.stdin.buffer.read() if str(arguments.file) == "-"
                else arguments.file.read_bytes())
        site = Site.model_validate_json(text)
    except OSError as error:
        print(f"chargebus charging site define: cannot read {arguments.file}: "
              f"{error.strerror}", file=sys.stderr)
        return 2
    except ValidationError as error:
        print(f"chargebus charging site define: {problem_of(error)}", file=sys.stderr)
        return 2

    async def define(stores: Stores, nc) -> int:
        try:
            await charging.define_site(stores, nc, site, sender(), utc_now())
        except charging.SiteRefused as refused:
            print(f"chargebus charging site define: {refused}", file=sys.stderr)
            return 2
        print(f"{site.site_id}: {len(site.groups)} groups, {len(site.evses)} EVSEs of "
              f"{len(site.stations())} stations")
        return 0

    return with_stores(settings, define)


def _show_site(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        record = await stores.sites.get(*site_key(arguments.site_id))
        if record is None:
            print(f"chargebus charging site show: no site {arguments.site_id}", file=sys.stderr)
            return 1
        if arguments.json:
            print_json(record.model_dump(mode="json"))
            return 0
        site = record.site
        for group in site.groups:
            depth = len(site.path(group.group_id)) - 1
            limit = (f"{group.amperes:g} A per phase" if group.amperes is not None
                     else f"{group.watts:g} W ({group.amperes_per_phase():.1f} A per phase)")
            print(f"{'  ' * depth}{group.group_id}: {limit}, {group.phases} phases at "
                  f"{group.voltage:g} V")
            for evse in site.evses:
                if evse.group_id == group.group_id:
                    print(f"{'  ' * (depth + 1)}{evse.station_id} evse {evse.evse_id}: "
                          f"{'/'.join(evse.phases)}, {evse.min_current:g}-"
                          f"{evse.max_current:g} A, priority {evse.priority}")
        print(f"defined by {record.changed_by} at "
              f"{record.changed_at.isoformat(timespec='seconds')}")
        return 0

    return with_stores(settings, show)


def _list_sites(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        for record in sorted(await stores.sites.all(*sites()),
                             key=lambda each: each.site.site_id):
            root = record.site.groups[0]
            print(f"{record.site.site_id}: {root.amperes_per_phase():.1f} A per phase, "
                  f"{len(record.site.evses)} EVSEs")
        return 0

    return with_stores(settings, show)


def _remove_site(settings: Settings, arguments: argparse.Namespace) -> int:
    async def remove(stores: Stores, nc) -> int:
        if not await charging.remove_site(stores, nc, arguments.site_id, sender()):
            print(f"chargebus charging site remove: no site {arguments.site_id}",
                  file=sys.stderr)
            return 1
        return 0

    return with_stores(settings, remove)


def _show_allocation(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        record = await stores.allocations.get(*allocation_key(arguments.site_id))
        site = await stores.sites.get(*site_key(arguments.site_id))
        if site is None:
            print(f"chargebus charging allocation: no site {arguments.site_id}",
                  file=sys.stderr)
            return 1
        if record is None:
            print(f"chargebus charging allocation: the load manager has not divided "
                  f"{arguments.site_id} yet", file=sys.stderr)
            return 1
        if arguments.json:
            print_json(record.model_dump(mode="json"))
            return 0
        allocated = (record.allocated_at.isoformat(timespec="seconds")
                     if record.allocated_at else "never")
        print(f"{arguments.site_id}: divided at {allocated}"
              + (f" by {record.holder}" if record.holder else ""))
        for session in sorted(record.sessions, key=lambda each: each.started_at):
            key = label(session.station_id, session.evse_id)
            state = ("queued" if key in record.queue
                     else f"{record.shares.get(key, 0.0):g} A per phase")
            seen = []
            if session.drawn is not None:
                seen.append(f"draws {session.drawn:g} A")
            if session.car_phases is not None:
                seen.append(f"on {session.car_phases} phases")
            if session.energy_wh is not None and session.departure is not None:
                seen.append(f"needs {session.energy_wh / 1000:g} kWh by "
                            f"{session.departure.isoformat(timespec='minutes')}")
            print(f"  {key} transaction {session.transaction_id}: {state}"
                  + (f" ({', '.join(seen)})" if seen else ""))
        for station, uncontrolled in sorted(record.uncontrolled.items()):
            print(f"  {station}: counted at its maximum since "
                  f"{uncontrolled.since.isoformat(timespec='seconds')} ({uncontrolled.why})")
        now = utc_now()
        for limit in record.limits:
            if limit.ends > now:
                print(f"  limit {limit.group_id}: {limit.amperes:g} A per phase from "
                      f"{limit.starts.isoformat(timespec='seconds')} to "
                      f"{limit.ends.isoformat(timespec='seconds')} by {limit.set_by}")
        return 0

    return with_stores(settings, show)


def _set_limit(settings: Settings, arguments: argparse.Namespace) -> int:
    starts = arguments.starts or utc_now()
    ends = arguments.until or starts + timedelta(minutes=arguments.minutes)

    async def put(stores: Stores, nc) -> int:
        try:
            limit = await charging.set_limit(stores, nc, arguments.site_id, arguments.group,
                                             arguments.amperes, starts, ends, sender(),
                                             utc_now())
        except charging.SiteRefused as refused:
            print(f"chargebus charging limit: {refused}", file=sys.stderr)
            return 2
        print(f"{arguments.site_id}: {limit.group_id} at most {limit.amperes:g} A per phase "
              f"from {starts.isoformat(timespec='seconds')} to "
              f"{ends.isoformat(timespec='seconds')}")
        return 0

    return with_stores(settings, put)


def _lift_limits(settings: Settings, arguments: argparse.Namespace) -> int:
    async def lift(stores: Stores, nc) -> int:
        await charging.lift_limits(stores, nc, arguments.site_id, arguments.group, sender())
        return 0

    return with_stores(settings, lift)
