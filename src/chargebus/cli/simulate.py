"""`chargebus simulate`: stations of a mix of versions against a CSMS, with latencies."""
import argparse
import sys
from pathlib import Path

import orjson

from chargebus.runtime.config import Settings
from chargebus.simulate import (Mode, Options, Progress, SimulationError, format_report,
                                parse_mix, parse_rate, run)

_DEFAULTS = Options(url="ws://127.0.0.1:9000/ocpp/")


def _argument_type(parse):
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def register(commands) -> None:
    simulate = commands.add_parser(
        "simulate", help="simulate charging stations against a CSMS and measure it",
        description="Plays stations of a mix of OCPP versions: boot, status, authorize, "
                    "sessions with meter values, heartbeats; answers the CSMS's calls. "
                    "Prints calls per second, CALLERRORs by code and latency percentiles "
                    "per action.")
    simulate.add_argument("--url", help="where stations connect, the station id appended "
                          "(default: this chargebus's edge, ws://<edge host>:<edge port>/ocpp/)")
    simulate.add_argument("--mode", choices=[mode.value for mode in Mode], default="load",
                          help="load: sessions at --rate; idle: connect, boot and hold the "
                               "sockets; storm: all drop at once and reconnect (default load)")
    simulate.add_argument("--stations", type=int, default=_DEFAULTS.stations,
                          help=f"number of stations (default {_DEFAULTS.stations})")
    simulate.add_argument("--mix", type=_argument_type(parse_mix), default=_DEFAULTS.mix,
                          help="versions and their shares, e.g. 1.6=0.5,2.0.1=0.3,2.1=0.2 "
                               "(default 1.6)")
    simulate.add_argument("--rate", type=_argument_type(parse_rate),
                          help="calls per second offered in all, or max: each station sends "
                               "its next call when the answer comes (default: each station "
                               "sends a call every --meter-interval seconds)")
    simulate.add_argument("--duration", type=float, default=_DEFAULTS.duration,
                          help="seconds of load, or of holding in idle mode "
                               f"(default {_DEFAULTS.duration:g})")
    simulate.add_argument("--meter-interval", type=float, default=_DEFAULTS.meter_interval,
                          help="seconds each meter reading stands for, and between a "
                               "station's calls when no --rate is given "
                               f"(default {_DEFAULTS.meter_interval:g})")
    simulate.add_argument("--meter-values", type=int, default=_DEFAULTS.meter_values,
                          help="meter readings per session: MeterValues (1.6) or "
                               f"TransactionEvent Updated (2.x) (default {_DEFAULTS.meter_values})")
    simulate.add_argument("--processes", type=int, default=_DEFAULTS.processes,
                          help=f"processes sharing the stations (default {_DEFAULTS.processes})")
    simulate.add_argument("--station-prefix", default=_DEFAULTS.station_prefix,
                          help="station ids are this and a number "
                               f"(default {_DEFAULTS.station_prefix})")
    simulate.add_argument("--connect-concurrency", type=int,
                          default=_DEFAULTS.connect_concurrency,
                          help="connection attempts under way at once, per process "
                               f"(default {_DEFAULTS.connect_concurrency})")
    simulate.add_argument("--call-timeout", type=float, default=_DEFAULTS.call_timeout,
                          help="seconds a call may wait for its answer "
                               f"(default {_DEFAULTS.call_timeout:g})")
    simulate.add_argument("--phase-timeout", type=float, default=_DEFAULTS.phase_timeout,
                          help="seconds the stations may take to connect and boot "
                               f"(default {_DEFAULTS.phase_timeout:g})")
    simulate.add_argument("--json", type=Path, dest="json_file",
                          help="also write the results to this file as JSON")
    simulate.add_argument("--quiet", action="store_true", help="no progress line")
    simulate.set_defaults(command=_simulate)


def default_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.edge_host in ("0.0.0.0", "::", "") else settings.edge_host
    return f"ws://{host}:{settings.edge_port}{settings.edge_path_prefix}"


def _simulate(settings: Settings, arguments: argparse.Namespace) -> int:
    options = Options(
        url=arguments.url or default_url(settings), stations=arguments.stations,
        mix=arguments.mix, rate=arguments.rate, duration=arguments.duration,
        meter_interval=arguments.meter_interval, meter_values=arguments.meter_values,
        processes=arguments.processes, mode=Mode(arguments.mode),
        station_prefix=arguments.station_prefix,
        connect_concurrency=arguments.connect_concurrency,
        call_timeout=arguments.call_timeout, phase_timeout=arguments.phase_timeout)
    try:
        options.check()
    except ValueError as error:
        print(f"chargebus simulate: {error}", file=sys.stderr)
        return 2
    if arguments.json_file is not None and not arguments.json_file.parent.is_dir():
        print(f"chargebus simulate: no folder {arguments.json_file.parent} for --json",
              file=sys.stderr)
        return 2
    try:
        results = run(options, progress=None if arguments.quiet else Progress())
    except SimulationError as error:
        print(f"chargebus simulate: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nchargebus simulate: interrupted", file=sys.stderr)
        return 130
    print(format_report(results))
    if arguments.json_file is not None:
        arguments.json_file.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0
