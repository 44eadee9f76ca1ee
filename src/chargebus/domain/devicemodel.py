"""A station's configuration as chargebus keeps it: OCPP 1.6 configuration keys, or the
OCPP 2.x device model (components, their variables, each variable's attributes and
characteristics). Version-neutral and free of I/O: how a report part, a read or a
change makes the records new.

A 1.6 station's keys are the variables of one component without a name. A 2.x
report comes in parts (NotifyReport, each with its seqNo; the last has tbc false), in
any order and at any worker: each part changes only the components it names, and the
report's progress record says which parts came.
"""
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from chargebus.domain.operations import VariableName


class Attribute(BaseModel):
    value: str | None = None
    mutability: str | None = None  # ReadOnly, WriteOnly, ReadWrite
    persistent: bool | None = None
    constant: bool | None = None


class Characteristics(BaseModel):
    data_type: str | None = None
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    supports_monitoring: bool | None = None


class Monitor(BaseModel):
    """A 2.x variable monitor the station holds."""

    kind: str
    value: float
    severity: int
    transaction: bool = False


class Event(BaseModel):
    """The latest event a 2.x station raised of a variable (NotifyEvent)."""

    event_id: int
    at: datetime
    trigger: str  # Alerting, Delta, Periodic
    actual_value: str
    notification: str  # HardWiredNotification, HardWiredMonitor, PreconfiguredMonitor, ...
    monitor_id: int | None = None
    cleared: bool | None = None
    tech_code: str | None = None
    tech_info: str | None = None
    transaction_id: str | None = None


class Variable(BaseModel):
    name: str
    instance: str | None = None
    attributes: dict[str, Attribute] = {}  # by attribute type: Actual, Target, MinSet, MaxSet
    characteristics: Characteristics | None = None
    reboot_required: bool = False  # 1.6: a change the station takes at its next start
    monitors: dict[int, Monitor] = {}  # 2.x: by monitor id
    last_event: Event | None = None


class ComponentRef(BaseModel, frozen=True):
    """A component where it is: 1.6 keys are ``name`` None."""

    name: str | None = None
    instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None


class Component(BaseModel):
    station_id: str
    ref: ComponentRef
    variables: dict[str, Variable] = {}  # by variable_key()
    updated_at: datetime


class ReportPart(BaseModel):
    """What one entry of a report says of one variable."""

    component: ComponentRef
    variable: Variable


class ReportProgress(BaseModel):
    """Which parts of one report (its requestId) came: complete once the part with tbc
    false and every seqNo before it did."""

    station_id: str
    request_id: int
    seq_nos: list[int] = []
    last_seq_no: int | None = None
    generated_at: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.last_seq_no is not None and \
            set(range(self.last_seq_no + 1)) <= set(self.seq_nos)

    @property
    def missing(self) -> list[int]:
        top = self.last_seq_no if self.last_seq_no is not None else max(self.seq_nos, default=-1)
        return sorted(set(range(top + 1)) - set(self.seq_nos))


def variable_key(name: str, instance: str | None) -> str:
    return name if instance is None else f"{name}.{instance}"


def with_part(current: Component | None, station_id: str, ref: ComponentRef,
              variables: list[Variable], now: datetime) -> Component:
    """The component with these variables as a report gives them (whole: a report says
    every attribute it knows; monitors and events come in reports of their own)."""
    held = dict(current.variables) if current else {}
    for variable in variables:
        key = variable_key(variable.name, variable.instance)
        before = held.get(key)
        held[key] = variable if before is None else variable.model_copy(update={
            "monitors": before.monitors, "last_event": before.last_event})
    return Component(station_id=station_id, ref=ref, variables=held, updated_at=now)


def with_value(current: Component | None, station_id: str, ref: ComponentRef,
               name: VariableName, value: str | None, now: datetime,
               read_only: bool | None = None, reboot_required: bool = False) -> Component:
    """The component with one attribute's value as a read or an accepted change gave it."""
    held = dict(current.variables) if current else {}
    key = variable_key(name.variable, name.variable_instance)
    variable = held.get(key) or Variable(name=name.variable, instance=name.variable_instance)
    attributes = dict(variable.attributes)
    attribute = attributes.get(name.attribute.value) or Attribute()
    update: dict = {"value": value}
    if read_only is not None:
        update["mutability"] = "ReadOnly" if read_only else "ReadWrite"
    attributes[name.attribute.value] = attribute.model_copy(update=update)
    held[key] = variable.model_copy(update={"attributes": attributes,
                                            "reboot_required": reboot_required})
    return Component(station_id=station_id, ref=ref, variables=held, updated_at=now)


def with_seq_no(current: ReportProgress | None, station_id: str, request_id: int,
                seq_no: int, last: bool, generated_at: datetime) -> ReportProgress | None:
    """The report's progress with one part more; None where that part had come."""
    progress = current or ReportProgress(station_id=station_id, request_id=request_id)
    if seq_no in progress.seq_nos:
        return None
    return progress.model_copy(update={
        "seq_nos": sorted([*progress.seq_nos, seq_no]),
        "last_seq_no": seq_no if last else progress.last_seq_no,
        "generated_at": generated_at})


def ref_of(name: VariableName) -> ComponentRef:
    return ComponentRef(name=name.component, instance=name.component_instance,
                        evse_id=name.evse_id, connector_id=name.connector_id)


def _with_variable(current: Component | None, station_id: str, ref: ComponentRef, name: str,
                   instance: str | None, change: Callable[[Variable], Variable],
                   now: datetime) -> Component:
    held = dict(current.variables) if current else {}
    key = variable_key(name, instance)
    held[key] = change(held.get(key) or Variable(name=name, instance=instance))
    return Component(station_id=station_id, ref=ref, variables=held, updated_at=now)


def with_monitor(current: Component | None, station_id: str, ref: ComponentRef, name: str,
                 instance: str | None, monitor_id: int, monitor: Monitor, now: datetime
                 ) -> Component:
    """The component with a monitor the station accepted (SetVariableMonitoring)."""
    return _with_variable(current, station_id, ref, name, instance, lambda variable:
                          variable.model_copy(update={
                              "monitors": variable.monitors | {monitor_id: monitor}}), now)


def with_monitors(current: Component | None, station_id: str, ref: ComponentRef, name: str,
                  instance: str | None, monitors: dict[int, Monitor], now: datetime
                  ) -> Component:
    """The component with a variable's monitors as a report gives them (all of them)."""
    return _with_variable(current, station_id, ref, name, instance, lambda variable:
                          variable.model_copy(update={"monitors": monitors}), now)


def without_monitors(current: Component | None, monitor_ids: set[int], now: datetime
                     ) -> Component | None:
    """The component without the monitors cleared; None where it had none of them."""
    if current is None:
        return None
    held = {}
    changed = False
    for key, variable in current.variables.items():
        kept = {monitor_id: monitor for monitor_id, monitor in variable.monitors.items()
                if monitor_id not in monitor_ids}
        if len(kept) != len(variable.monitors):
            variable, changed = variable.model_copy(update={"monitors": kept}), True
        held[key] = variable
    return current.model_copy(update={"variables": held, "updated_at": now}) if changed else None


def with_event(current: Component | None, station_id: str, ref: ComponentRef, name: str,
               instance: str | None, event: Event, now: datetime) -> Component | None:
    """The component with an event the station raised: the variable's latest event and
    its Actual value as the event saw it; None for an event older than the one kept."""
    if current is not None:
        held = current.variables.get(variable_key(name, instance))
        if held is not None and held.last_event is not None and held.last_event.at > event.at:
            return None

    def seen(variable: Variable) -> Variable:
        actual = variable.attributes.get("Actual") or Attribute()
        return variable.model_copy(update={
            "last_event": event,
            "attributes": variable.attributes | {
                "Actual": actual.model_copy(update={"value": event.actual_value})}})
    return _with_variable(current, station_id, ref, name, instance, seen, now)
