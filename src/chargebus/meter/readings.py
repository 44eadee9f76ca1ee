"""Energy register readings out of any call that carries meter values."""
import math
from datetime import UTC, datetime

from chargebus.domain.model import EnergyReading
from chargebus.meter.calls import placement
from chargebus.meter.columns import samples
from chargebus.meter.rules import DEFAULT_MEASURAND, Placement
from chargebus.ocpp import OcppVersion


def energy_readings(version: OcppVersion, action: str, payload: dict) -> list[EnergyReading]:
    """Samples come with energy in Wh (chargebus.meter normalises kWh)."""
    return [EnergyReading(timestamp=datetime.fromtimestamp(sample.timestamp_ms / 1000, UTC),
                          wh=sample.value)
            for sample in samples("", version, action, payload, Placement(None, 0, ""))
            if sample.measurand == DEFAULT_MEASURAND and sample.unit == "Wh"
            and not math.isnan(sample.value)]


# The measurand of the current a car draws, per phase.
CURRENT_MEASURAND = "Current.Import"


def phase_currents(version: OcppVersion, action: str, payload: dict
                   ) -> tuple[Placement, dict[str, float]]:
    """Where a call's samples were taken, and the latest current drawn per phase it
    gives (A, by "L1", "L2", "L3"; a sample of no phase counts as L1)."""
    where = placement(version, action, payload)
    currents: dict[str, tuple[int, float]] = {}
    for sample in samples("", version, action, payload, where):
        if sample.measurand != CURRENT_MEASURAND or math.isnan(sample.value):
            continue
        phase = (sample.phase or "L1")[:2]
        if phase in ("L1", "L2", "L3") and sample.timestamp_ms >= currents.get(
                phase, (-1, 0.0))[0]:
            currents[phase] = (sample.timestamp_ms, sample.value)
    return where, {phase: value for phase, (_, value) in currents.items()}
