"""A station's configuration as chargebus keeps it: OCPP 1.6 configuration keys, or the
OCPP 2.x device model (components, their variables, each variable's attributes and
characteristics). Version-neutral and free of I/O: how a report part, a read or a
change makes the records new.

A 1.6 station's keys are the variables of one component without a name. A 2.x
report comes in parts (NotifyReport, each with its seqNo; the last has tbc false), in
any order and at any worker: each part changes only the components it names, and the
report's progress record says which parts came.
"""
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


class Variable(BaseModel):
    name: str
    instance: str | None = None
    attributes: dict[str, Attribute] = {}  # by attribute type: Actual, Target, MinSet, MaxSet
    characteristics: Characteristics | None = None
    reboot_required: bool = False  # 1.6: a change the station takes at its next start


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
    every attribute it knows)."""
    held = dict(current.variables) if current else {}
    for variable in variables:
        held[variable_key(variable.name, variable.instance)] = variable
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
