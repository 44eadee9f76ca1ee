"""Meter samples as ClickHouse takes them: one list per column."""
import math
from datetime import UTC, datetime, timedelta

import msgspec

from chargebus.meter.calls import MeterCall, meter_call
from chargebus.meter.rules import (DEFAULT_LOCATION, DEFAULT_MEASURAND, DEFAULT_UNIT,
                                   NORMAL_UNITS, Placement, Sample, is_decimal, is_rfc3339,
                                   power_of_ten)
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import parse_timestamp
from chargebus.ocpp.v16.meter_values import MeterValue16, MeterValues16, StopTransaction16
from chargebus.ocpp.v2x.meter_values import MeterValue2x

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REGISTER_MEASURAND = DEFAULT_MEASURAND  # Energy.Active.Import.Register
_MILLISECOND = timedelta(milliseconds=1)


def samples(station_id: str, version: OcppVersion, action: str, payload: bytes | dict,
            where: Placement) -> list[Sample]:
    """The samples of a call; ``where`` comes from placement(), completed by the caller
    where the payload leaves the EVSE out (1.6 StopTransaction, later TransactionEvents)."""
    columns = SampleColumns()
    columns.add(station_id, meter_call(version, action, payload), where, "", 0)
    return [Sample(*row[:len(Sample._fields)]) for row in zip(*columns.lists.values())]


class SampleColumns:
    """Samples the way ClickHouse takes them: one list per column (SAMPLE_COLUMNS).

    The sink appends every call of a batch here and inserts the lists at once; building
    a tuple per sample first cost it more than the insert.
    """

    NAMES = Sample._fields + ("site", "stream_seq")

    def __init__(self) -> None:
        self.lists: dict[str, list] = {name: [] for name in self.NAMES}
        self._per_sample = [self.lists[name] for name in (
            "timestamp_ms", "measurand", "phase", "location", "context", "unit", "value",
            "raw_value")]
        self._per_call = [self.lists[name] for name in (
            "station_id", "evse_id", "connector_id", "transaction_id", "site", "stream_seq")]
        self._timestamps: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.lists["station_id"])

    def add(self, station_id: str, call: MeterCall, where: Placement, site: str,
            stream_seq: int) -> int:
        """Appends the call's samples and returns how many; a call that cannot be read
        raises (chargebus.bus.consumers.UNUSABLE) and leaves the lists as they were."""
        before = len(self)
        try:
            if isinstance(call, (MeterValues16, StopTransaction16)):
                count = self._add_samples_16(call.meter_value)
            else:
                count = self._add_samples_2x(call.meter_value)
        except BaseException:
            for column in self.lists.values():
                del column[before:]
            raise
        for column, value in zip(self._per_call, (
                station_id, where.evse_id or 0, where.connector_id, where.transaction_id,
                site, stream_seq)):
            column.extend([value] * count)
        return count

    def add_register(self, station_id: str, where: Placement, site: str, stream_seq: int,
                     timestamp: str, wh: int, context: str) -> None:
        """One energy register reading that is no sampled value: a 1.6 start's
        meterStart or a stop's meterStop, in Wh."""
        for column, value in zip(self._per_sample, (
                self._milliseconds(timestamp), REGISTER_MEASURAND, "", DEFAULT_LOCATION,
                context, DEFAULT_UNIT, float(wh), "")):
            column.append(value)
        for column, value in zip(self._per_call, (
                station_id, where.evse_id or 0, where.connector_id, where.transaction_id,
                site, stream_seq)):
            column.append(value)

    def _add_samples_16(self, meter_values: list[MeterValue16]) -> int:
        (times, measurands, phases, locations, contexts, units, values,
         raw_values) = self._per_sample
        normal_units = NORMAL_UNITS
        count = 0
        for meter_value in meter_values:
            timestamp_ms = self._milliseconds(meter_value.timestamp)
            for sampled in meter_value.sampledValue:
                text = sampled.value
                unit = sampled.unit
                if is_decimal(text):
                    value = float(text)
                    raw = text if sampled.format == "SignedData" else ""
                else:  # signed data, or what is no number, is kept as sent
                    value = math.nan
                    raw = text
                if unit in normal_units:
                    factor, unit = normal_units[unit]
                    value *= factor
                times.append(timestamp_ms)
                measurands.append(sampled.measurand)
                phases.append(sampled.phase)
                locations.append(sampled.location)
                contexts.append(sampled.context)
                units.append(unit)
                values.append(value)
                raw_values.append(raw)
                count += 1
        return count

    def _add_samples_2x(self, meter_values: list[MeterValue2x]) -> int:
        """2.x: a number, times 10 to the multiplier; signed meter data rides beside it."""
        (times, measurands, phases, locations, contexts, units, values,
         raw_values) = self._per_sample
        normal_units = NORMAL_UNITS
        count = 0
        for meter_value in meter_values:
            timestamp_ms = self._milliseconds(meter_value.timestamp)
            for sampled in meter_value.sampledValue:
                value = sampled.value
                unit_of_measure = sampled.unitOfMeasure
                if unit_of_measure is None:
                    unit = DEFAULT_UNIT
                else:
                    unit = unit_of_measure.unit
                    value *= power_of_ten(unit_of_measure.multiplier)
                if unit in normal_units:
                    factor, unit = normal_units[unit]
                    value *= factor
                signed = sampled.signedMeterValue
                times.append(timestamp_ms)
                measurands.append(sampled.measurand)
                phases.append(sampled.phase)
                locations.append(sampled.location)
                contexts.append(sampled.context)
                units.append(unit)
                values.append(value)
                raw_values.append("" if signed is None else signed.signedMeterData)
                count += 1
        return count

    def _milliseconds(self, timestamp: str) -> int:
        """Stations sampling on the clock send the same few timestamps; each is read once."""
        milliseconds = self._timestamps.get(timestamp)
        if milliseconds is None:
            milliseconds = (parse_timestamp(timestamp) - _EPOCH) // _MILLISECOND
            self._timestamps[timestamp] = milliseconds
        return milliseconds


class CallColumns:
    """Calls of one layout the way ClickHouse reads their samples itself
    (chargebus.meter.clickhouse.payloads): a row per call, with its JSON as the station sent it.

    Python then neither walks the sampled values nor hands ClickHouse a list entry per
    sample and column, which cost the sink's event loop and, holding the GIL, chdb's
    insert more than everything else of a meter message.
    """

    NAMES = ("station_id", "evse_id", "connector_id", "transaction_id", "site", "stream_seq",
             "payload", "sample_count")

    def __init__(self) -> None:
        self.lists: dict[str, list] = {name: [] for name in self.NAMES}
        self._columns = tuple(self.lists.values())
        # The type of each call, not the call: a batch's decoded calls kept alive made
        # Python's garbage collector cost more than decoding them.
        self._types: list[type[MeterCall]] = []
        self._readable_times: set[str] = set()

    def __len__(self) -> int:
        return len(self.lists["station_id"])

    def add(self, station_id: str, call: MeterCall, where: Placement, site: str,
            stream_seq: int, payload: bytes) -> bool:
        """Adds the call where ClickHouse makes the same rows of it as SampleColumns;
        False where it would not, because a time is not written as RFC 3339 (ClickHouse
        and Python read other forms differently). A time that is no time raises
        ValueError.

        The call's number of samples goes with it: ClickHouse refuses the insert where
        it finds another (chargebus.meter.clickhouse.payloads)."""
        count = 0
        for meter_value in call.meter_value:
            timestamp = meter_value.timestamp
            if timestamp not in self._readable_times:
                parse_timestamp(timestamp)
                if not is_rfc3339(timestamp):
                    return False
                self._readable_times.add(timestamp)
            count += len(meter_value.sampledValue)
        for column, value in zip(self._columns, (
                station_id, where.evse_id or 0, where.connector_id, where.transaction_id,
                site, stream_seq, payload.decode(), count)):
            column.append(value)
        self._types.append(type(call))
        return True

    def add_samples_to(self, samples: "SampleColumns") -> None:
        """The calls' samples, made here rather than by ClickHouse."""
        lists = self.lists
        for index, call_type in enumerate(self._types):
            call = msgspec.json.decode(lists["payload"][index], type=call_type)
            samples.add(lists["station_id"][index], call,
                        Placement(lists["evse_id"][index], lists["connector_id"][index],
                                  lists["transaction_id"][index]),
                        lists["site"][index], lists["stream_seq"][index])
