"""`chargebus sessions active`: the transactions under way, with energy so far."""
import argparse
import sys

from chargebus.cli.common import print_json, station_id, with_stores
from chargebus.manage.sessions import active_sessions
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores


def register(commands) -> None:
    group = commands.add_parser("sessions", help="charging sessions").add_subparsers(
        title="sessions")
    active = group.add_parser("active", help="the transactions under way, oldest first")
    active.add_argument("--station", type=station_id, help="one station's")
    active.add_argument("--json", action="store_true", help="each as a JSON line")
    active.set_defaults(command=_active)


def _active(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        views, partial = await active_sessions(nc, stores, arguments.station)
        if partial:
            print(f"chargebus sessions active: {partial}; energy from the transactions' own "
                  "events only", file=sys.stderr)
        for view in views:
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
