"""Energy register readings out of any call that carries meter values."""
import math
from datetime import UTC, datetime

from chargebus.domain.model import EnergyReading
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
