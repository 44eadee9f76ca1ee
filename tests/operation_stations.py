"""Stations of each OCPP version, on the `ocpp` package's ChargePoint, that answer the
operator's operations the way a real one does and keep what a real one keeps: their
configuration or variables, their reservations, their availability, the remote starts
they took."""
import uuid
from datetime import UTC, datetime

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21

# key -> (read-only, value)
CONFIGURATION_16 = {"HeartbeatInterval": (False, "300"), "NumberOfConnectors": (True, "2"),
                    "MeterValueSampleInterval": (False, "60")}
# (component, variable) -> (read-only, value)
VARIABLES_2X = {("OCPPCommCtrlr", "HeartbeatInterval"): (False, "300"),
                ("SampledDataCtrlr", "TxUpdatedInterval"): (False, "60"),
                ("SecurityCtrlr", "SecurityProfile"): (True, "0")}
EVSES = (1, 2)
REBOOT_REQUIRED = {"MeterValueSampleInterval"}  # 1.6 keys taken at the next start
TRIGGERABLE = {"BootNotification", "Heartbeat", "StatusNotification", "MeterValues"}


# What a station answers when it will not do what an operation asks, per action.
REFUSALS_16 = {"RemoteStartTransaction": "Rejected", "RemoteStopTransaction": "Rejected",
               "Reset": "Rejected", "ChangeAvailability": "Rejected",
               "UnlockConnector": "UnlockFailed", "TriggerMessage": "Rejected",
               "ClearCache": "Rejected", "ChangeConfiguration": "Rejected",
               "DataTransfer": "Rejected", "ReserveNow": "Rejected",
               "CancelReservation": "Rejected"}
REFUSALS_2X = {"RequestStartTransaction": "Rejected", "RequestStopTransaction": "Rejected",
               "Reset": "Rejected", "ChangeAvailability": "Rejected",
               "UnlockConnector": "UnlockFailed", "TriggerMessage": "Rejected",
               "ClearCache": "Rejected", "DataTransfer": "Rejected", "ReserveNow": "Rejected",
               "CancelReservation": "Rejected", "GetBaseReport": "Rejected"}


def _refusable(station, results, refusals: dict[str, str]) -> None:
    """While ``station.refusing``, each of these actions is answered with its refusal
    (and what would follow it, a remote start's transaction, does not happen)."""
    for action, status in refusals.items():
        handlers = station.route_map[action]
        original, after_taken = handlers["_on_action"], handlers.get("_after_action")
        refusal = getattr(results, action)

        def on(_original=original, _type=refusal, _status=status, **payload):
            return _type(status=_status) if station.refusing else _original(**payload)
        handlers["_on_action"] = on
        if after_taken is not None:
            def after(_after=after_taken, **payload):
                if not station.refusing:
                    return _after(**payload)
            handlers["_after_action"] = after


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Station16(ChargePoint16):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration = {key: value for key, (_, value) in CONFIGURATION_16.items()}
        self.reservations: dict[int, dict] = {}
        self.remote_starts: list[dict] = []
        self.availability: dict[int, str] = {}
        self.silent = False  # answers nothing, as a hung station
        self.refusing = False  # refuses every operation (REFUSALS_16)
        _refusable(self, result16, REFUSALS_16)
        self.starts_on_remote = True  # a driver plugs in after a remote start
        self.transactions: list[int] = []  # what the CSMS answered its starts with

    async def route_message(self, raw_msg):
        if self.silent:
            return None
        return await super().route_message(raw_msg)

    @on("RemoteStartTransaction")
    def remote_start(self, id_tag, connector_id=None, **_):
        self.remote_starts.append({"id_tag": id_tag, "connector_id": connector_id})
        return result16.RemoteStartTransaction(status="Accepted")

    @after("RemoteStartTransaction")
    async def begin_remote_start(self, id_tag, connector_id=None, **_):
        if not self.starts_on_remote:
            return
        started = await self.call(call16.StartTransaction(
            connector_id=connector_id or 1, id_tag=id_tag, meter_start=1000,
            timestamp=_now()))
        self.transactions.append(started.transaction_id)

    @on("RemoteStopTransaction")
    def remote_stop(self, transaction_id):
        return result16.RemoteStopTransaction(status="Accepted" if transaction_id == 7
                                              else "Rejected")

    @on("Reset")
    def reset(self, type):
        return result16.Reset(status="Accepted")

    @on("ChangeAvailability")
    def change_availability(self, connector_id, type):
        if connector_id not in (0, *EVSES):
            return result16.ChangeAvailability(status="Rejected")
        self.availability[connector_id] = type
        return result16.ChangeAvailability(status="Accepted")

    @on("UnlockConnector")
    def unlock(self, connector_id):
        return result16.UnlockConnector(status="Unlocked" if connector_id in EVSES
                                        else "NotSupported")

    @on("TriggerMessage")
    def trigger(self, requested_message, connector_id=None):
        return result16.TriggerMessage(status="Accepted" if requested_message in TRIGGERABLE
                                       else "NotImplemented")

    @on("ClearCache")
    def clear_cache(self):
        return result16.ClearCache(status="Accepted")

    @on("GetConfiguration")
    def get_configuration(self, key=None):
        names = key or list(CONFIGURATION_16)
        known = [{"key": name, "readonly": CONFIGURATION_16[name][0],
                  "value": self.configuration[name]} for name in names
                 if name in CONFIGURATION_16]
        unknown = [name for name in names if name not in CONFIGURATION_16]
        return result16.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on("ChangeConfiguration")
    def change_configuration(self, key, value):
        if key not in CONFIGURATION_16:
            return result16.ChangeConfiguration(status="NotSupported")
        if CONFIGURATION_16[key][0]:
            return result16.ChangeConfiguration(status="Rejected")
        self.configuration[key] = value
        return result16.ChangeConfiguration(
            status="RebootRequired" if key in REBOOT_REQUIRED else "Accepted")

    @on("DataTransfer")
    def data_transfer(self, vendor_id, message_id=None, data=None):
        if vendor_id != "com.example":
            return result16.DataTransfer(status="UnknownVendorId")
        return result16.DataTransfer(status="Accepted", data=f"echo:{data}")

    @on("ReserveNow")
    def reserve_now(self, connector_id, expiry_date, id_tag, reservation_id, parent_id_tag=None):
        if connector_id not in (0, *EVSES):
            return result16.ReserveNow(status="Unavailable")
        self.reservations[reservation_id] = {"connector_id": connector_id, "id_tag": id_tag,
                                             "expiry_date": expiry_date}
        return result16.ReserveNow(status="Accepted")

    @on("CancelReservation")
    def cancel_reservation(self, reservation_id):
        if self.reservations.pop(reservation_id, None) is None:
            return result16.CancelReservation(status="Rejected")
        return result16.CancelReservation(status="Accepted")


def _station_2x(base, calls, results):
    class Station2x(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.variables = {name: value for name, (_, value) in VARIABLES_2X.items()}
            self.reservations: dict[int, dict] = {}
            self.remote_starts: list[dict] = []
            self.availability: dict[tuple, str] = {}
            self.silent = False
            self.refusing = False
            _refusable(self, results, REFUSALS_2X)
            self.starts_on_remote = True
            self.transactions: list[str] = []
            # The device model it reports: its variables and as many more as asked for.
            self.extra_variables = 0
            self.part_size = 100
            self.part_order: list[int] | None = None  # seqNos in the order sent
            self.parts_withheld: set[int] = set()
            self.base_reports: list[int] = []

        async def route_message(self, raw_msg):
            if self.silent:
                return None
            return await super().route_message(raw_msg)

        @on("RequestStartTransaction")
        def request_start(self, id_token, remote_start_id, evse_id=None, **_):
            self.remote_starts.append({"id_token": id_token, "remote_start_id": remote_start_id,
                                       "evse_id": evse_id})
            return results.RequestStartTransaction(status="Accepted")

        @after("RequestStartTransaction")
        async def begin_remote_start(self, id_token, remote_start_id, evse_id=None, **_):
            if not self.starts_on_remote:
                return
            transaction_id = f"tx-{uuid.uuid4().hex[:12]}"
            await self.call(calls.TransactionEvent(
                event_type="Started", timestamp=_now(), trigger_reason="RemoteStart",
                seq_no=0, transaction_info={"transaction_id": transaction_id,
                                            "remote_start_id": remote_start_id},
                evse={"id": evse_id or 1, "connector_id": 1}, id_token=id_token))
            self.transactions.append(transaction_id)

        @on("GetBaseReport")
        def get_base_report(self, request_id, report_base):
            self.base_reports.append(request_id)
            return results.GetBaseReport(status="Accepted")

        @after("GetBaseReport")
        async def send_report(self, request_id, report_base):
            inventory = [{"component": {"name": component}, "variable": {"name": variable},
                          "variable_attribute": [{"type": "Actual", "value": value,
                                                  "mutability": "ReadOnly" if read_only
                                                  else "ReadWrite"}],
                          "variable_characteristics": {"data_type": "string",
                                                       "supports_monitoring": False}}
                         for (component, variable), (read_only, value) in VARIABLES_2X.items()]
            inventory += [{"component": {"name": "Connector", "evse": {"id": 1 + index % 2,
                                                                      "connector_id": 1},
                                         "instance": f"i{index // 2}"},
                           "variable": {"name": "Available"},
                           "variable_attribute": [{"type": "Actual", "value": "true",
                                                   "mutability": "ReadOnly"}],
                           "variable_characteristics": {"data_type": "boolean",
                                                        "supports_monitoring": True}}
                          for index in range(self.extra_variables)]
            parts = [inventory[start:start + self.part_size]
                     for start in range(0, len(inventory), self.part_size)]
            order = self.part_order or list(range(len(parts)))
            for seq_no in order:
                if seq_no in self.parts_withheld:
                    continue
                await self.call(calls.NotifyReport(
                    request_id=request_id, generated_at=_now(), seq_no=seq_no,
                    tbc=seq_no < len(parts) - 1, report_data=parts[seq_no]))

        @on("RequestStopTransaction")
        def request_stop(self, transaction_id):
            return results.RequestStopTransaction(
                status="Accepted" if transaction_id == "tx-7" else "Rejected")

        @on("Reset")
        def reset(self, type, evse_id=None):
            return results.Reset(status="Scheduled" if type == "OnIdle" else "Accepted")

        @on("ChangeAvailability")
        def change_availability(self, operational_status, evse=None):
            where = (evse["id"], evse.get("connector_id")) if evse else (0, None)
            if where[0] not in (0, *EVSES):
                return results.ChangeAvailability(
                    status="Rejected", status_info={"reason_code": "UnknownEvse"})
            self.availability[where] = operational_status
            return results.ChangeAvailability(status="Accepted")

        @on("UnlockConnector")
        def unlock(self, evse_id, connector_id):
            return results.UnlockConnector(status="Unlocked" if evse_id in EVSES
                                           and connector_id == 1 else "UnknownConnector")

        @on("TriggerMessage")
        def trigger(self, requested_message, evse=None, **_):
            return results.TriggerMessage(status="Accepted" if requested_message in TRIGGERABLE
                                          else "NotImplemented")

        @on("ClearCache")
        def clear_cache(self):
            return results.ClearCache(status="Accepted")

        def _result(self, item, value=None):
            name = (item["component"]["name"], item["variable"]["name"])
            known_component = any(component == name[0] for component, _ in VARIABLES_2X)
            answer = {"component": item["component"], "variable": item["variable"],
                      "attribute_type": item.get("attribute_type", "Actual")}
            if name not in VARIABLES_2X:
                answer["attribute_status"] = ("UnknownVariable" if known_component
                                              else "UnknownComponent")
            elif answer["attribute_type"] != "Actual":
                answer["attribute_status"] = "NotSupportedAttributeType"
            elif value is None:
                answer["attribute_status"] = "Accepted"
                answer["attribute_value"] = self.variables[name]
            elif VARIABLES_2X[name][0]:
                answer["attribute_status"] = "Rejected"
            else:
                self.variables[name] = value
                answer["attribute_status"] = "Accepted"
            return answer

        @on("GetVariables")
        def get_variables(self, get_variable_data):
            return results.GetVariables(get_variable_result=[
                self._result(item) for item in get_variable_data])

        @on("SetVariables")
        def set_variables(self, set_variable_data):
            return results.SetVariables(set_variable_result=[
                self._result(item, item["attribute_value"]) for item in set_variable_data])

        @on("DataTransfer")
        def data_transfer(self, vendor_id, message_id=None, data=None):
            if vendor_id != "com.example":
                return results.DataTransfer(status="UnknownVendorId")
            return results.DataTransfer(status="Accepted", data={"echo": data})

        @on("ReserveNow")
        def reserve_now(self, id, expiry_date_time, id_token, evse_id=None, **_):
            if evse_id not in (None, *EVSES):
                return results.ReserveNow(status="Unavailable")
            self.reservations[id] = {"evse_id": evse_id, "id_token": id_token,
                                     "expiry_date_time": expiry_date_time}
            return results.ReserveNow(status="Accepted")

        @on("CancelReservation")
        def cancel_reservation(self, reservation_id):
            if self.reservations.pop(reservation_id, None) is None:
                return results.CancelReservation(status="Rejected")
            return results.CancelReservation(status="Accepted")

    return Station2x


Station201 = _station_2x(ChargePoint201, call201, result201)
Station21 = _station_2x(ChargePoint21, call21, result21)

# subprotocol -> the station class
STATIONS = {"ocpp1.6": Station16, "ocpp2.0.1": Station201, "ocpp2.1": Station21}

