"""`chargebus sessions active`: the transactions under way, with energy so far."""
import argparse
import sys

from nats.errors import NoRespondersError

from chargebus.bus import queryreplies
from chargebus.cli.common import print_json, station_id, with_stores
from chargebus.meter.analytics import Analytics
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings
from chargebus.state.fleet import active_transactions, session_views
from chargebus.state.stores import Stores

# How long the meter data may take to answer before the list goes without it.
REGISTERS_WAIT = 10.0


def register(commands) -> None:
    group = commands.add_parser("sessions", help="charging sessions").add_subparsers(
        title="sessions")
    active = group.add_parser("active", help="the transactions under way, oldest first")
    active.add_argument("--station", type=station_id, help="one station's")
    active.add_argument("--json", action="store_true", help="each as a JSON line")
    active.set_defaults(command=_active)


def _active(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        transactions = [record for record in await active_transactions(stores)
                        if arguments.station in (None, record.station_id)]
        try:
            registers = await Analytics.over_nats(nc, REGISTERS_WAIT).latest_registers(
                [(record.station_id, record.transaction_id) for record in transactions])
        except (TimeoutError, NoRespondersError, queryreplies.QueryFailed) as error:
            print(f"chargebus sessions active: no meter data ({error or 'no answer'}); "
                  "energy from the transactions' own events only", file=sys.stderr)
            registers = {}
        for view in session_views(transactions, utc_now(), registers):
            if arguments.json:
                print_json(view.model_dump(mode="json"))
                continue
            energy = f"{view.energy_wh:.0f} Wh" if view.energy_wh is not None else "? Wh"
            minutes = f"{view.duration_s // 60} min" if view.duration_s is not None else "?"
            print(f"{view.station_id} {view.transaction_id} evse {view.evse_id or '?'} "
                  f"{view.id_token or '-'} {minutes} {energy}"
                  + (f" started by {view.started_by}" if view.started_by else ""))
        return 0

    return with_stores(settings, show)
