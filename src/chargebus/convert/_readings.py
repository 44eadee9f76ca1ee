"""Energy register readings out of any call that carries meter values."""
import math
from datetime import UTC, datetime

from chargebus.meter import DEFAULT_MEASURAND, Placement, samples
from chargebus.model import EnergyReading
from chargebus.protocol import OcppVersion

_TO_WH = {"Wh": 1.0, "kWh": 1000.0}


def energy_readings(version: OcppVersion, action: str, payload: dict) -> list[EnergyReading]:
    readings = []
    for sample in samples("", version, action, payload, Placement(None, 0, "")):
        factor = _TO_WH.get(sample.unit)
        if sample.measurand == DEFAULT_MEASURAND and factor is not None and not math.isnan(
                sample.value):
            readings.append(EnergyReading(
                timestamp=datetime.fromtimestamp(sample.timestamp_ms / 1000, UTC),
                wh=sample.value * factor))
    return readings
