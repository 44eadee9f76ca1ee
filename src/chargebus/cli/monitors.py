"""`chargebus monitors`: 2.x variable monitoring (SetVariableMonitoring,
ClearVariableMonitoring, SetMonitoringBase, SetMonitoringLevel, GetMonitoringReport).
What the station holds, and the latest event of each variable (NotifyEvent), show in
`chargebus config show`."""
import argparse

from chargebus.cli.common import whole_number
from chargebus.cli.operations import name_of, operation_command
from chargebus.domain.operations import (ClearMonitors, MonitorSetting, ReadMonitors,
                                         SetMonitoringBase, SetMonitoringLevel, SetMonitors)

SEVERITY = whole_number(0, 9)


def register(commands) -> None:
    group = commands.add_parser(
        "monitors", help="2.x variable monitoring: the events stations raise"
    ).add_subparsers(title="monitors")
    watch = operation_command(group, "set", "monitor a variable")
    watch.add_argument("variable", metavar="Component[.instance]/Variable[.instance]")
    watch.add_argument("--type", required=True, dest="kind",
                       help="UpperThreshold, LowerThreshold, Delta, Periodic, "
                            "PeriodicClockAligned")
    watch.add_argument("--value", type=float, required=True)
    watch.add_argument("--severity", type=SEVERITY, default=5,
                       help="0 (danger) to 9 (debug); default 5")
    watch.add_argument("--transaction", action="store_true", help="only during transactions")
    watch.add_argument("--id", type=whole_number(0), dest="monitor_id",
                       help="replace this monitor")
    watch.add_argument("--evse", type=whole_number(0), help="the component's EVSE")
    watch.add_argument("--connector", type=whole_number(1), help="the component's connector")
    watch.set_defaults(build=_set, attribute="Actual")

    clear = operation_command(group, "clear", "remove monitors")
    clear.add_argument("monitor_ids", type=whole_number(0), nargs="+", metavar="ID")
    clear.set_defaults(build=lambda a: ClearMonitors(monitor_ids=a.monitor_ids))

    base = operation_command(group, "base", "which monitors are in force")
    base.add_argument("base", choices=["All", "FactoryDefault", "HardWiredOnly"])
    base.set_defaults(build=lambda a: SetMonitoringBase(base=a.base))

    level = operation_command(group, "level", "send events of this severity or worse")
    level.add_argument("severity", type=SEVERITY)
    level.set_defaults(build=lambda a: SetMonitoringLevel(severity=a.severity))

    fetch = operation_command(group, "fetch", "the station reports its monitors "
                                              "(NotifyMonitoringReport), kept in its model")
    fetch.add_argument("--criteria", action="append", default=[],
                       choices=["ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring"])
    fetch.set_defaults(build=lambda a: ReadMonitors(criteria=a.criteria))


def _set(arguments: argparse.Namespace) -> SetMonitors:
    return SetMonitors(monitors=[MonitorSetting(
        name=name_of(arguments.variable, arguments), kind=arguments.kind,
        value=arguments.value, severity=arguments.severity,
        transaction=arguments.transaction, monitor_id=arguments.monitor_id)])
