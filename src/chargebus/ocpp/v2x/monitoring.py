"""2.x monitoring on the wire: the monitors of a NotifyMonitoringReport and the events of
a NotifyEvent as chargebus.domain.devicemodel models them (1.6 has neither)."""
from dataclasses import dataclass
from datetime import datetime

from chargebus.domain.devicemodel import ComponentRef, Event, Monitor
from chargebus.ocpp.clock import parse_timestamp


@dataclass(frozen=True, slots=True)
class Where:
    """A variable of a component, as a monitor or an event names it."""

    component: ComponentRef
    variable: str
    instance: str | None


def where_of(component: dict, variable: dict) -> Where:
    evse = component.get("evse") or {}
    return Where(ComponentRef(name=component["name"], instance=component.get("instance"),
                              evse_id=evse.get("id"), connector_id=evse.get("connectorId")),
                 variable["name"], variable.get("instance"))


def monitoring_report(payload: dict) -> tuple[int, int, bool, datetime,
                                              list[tuple[Where, dict[int, Monitor]]]]:
    """A NotifyMonitoringReport: its requestId, seqNo, whether more parts follow, when it
    was made, and each variable's monitors (all of them)."""
    parts = [(where_of(entry["component"], entry["variable"]),
              {monitor["id"]: Monitor(kind=monitor["type"], value=monitor["value"],
                                      severity=monitor["severity"],
                                      transaction=monitor["transaction"])
               for monitor in entry["variableMonitoring"]})
             for entry in payload.get("monitor") or []]
    return (payload["requestId"], payload["seqNo"], bool(payload.get("tbc", False)),
            parse_timestamp(payload["generatedAt"]), parts)


def events(payload: dict) -> list[tuple[Where, Event]]:
    """A NotifyEvent's events, each with the variable it is of."""
    return [(where_of(entry["component"], entry["variable"]), Event(
        event_id=entry["eventId"], at=parse_timestamp(entry["timestamp"]),
        trigger=entry["trigger"], actual_value=entry["actualValue"],
        notification=entry["eventNotificationType"],
        monitor_id=entry.get("variableMonitoringId"), cleared=entry.get("cleared"),
        tech_code=entry.get("techCode"), tech_info=entry.get("techInfo"),
        transaction_id=entry.get("transactionId")))
        for entry in payload["eventData"]]
