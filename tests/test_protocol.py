import pytest

from chargebus.ocpp import (Fault, OcppVersion, calls_from_stations, calls_to_stations,
                             error_code, known_actions)
from chargebus.runtime.config import Settings
from chargebus.services.edge.routing import ROUTES


def test_known_actions_come_from_the_oca_schemas():
    assert ({"BootNotification", "StartTransaction", "DataTransfer"}
            <= known_actions(OcppVersion.V16))
    assert "TransactionEvent" not in known_actions(OcppVersion.V16)
    assert ({"BootNotification", "TransactionEvent", "NotifyReport"}
            <= known_actions(OcppVersion.V201))
    assert "StartTransaction" not in known_actions(OcppVersion.V201)
    assert "NotifyPeriodicEventStream" in known_actions(OcppVersion.V21)
    # 28 of OCPP 1.6 itself and 11 of its security extension, as the ocpp package ships them
    assert len(known_actions(OcppVersion.V16)) == 39
    assert "SecurityEventNotification" in known_actions(OcppVersion.V16)


def test_every_routed_action_is_an_action_of_its_version():
    for version, routes in ROUTES.items():
        assert set(routes) <= known_actions(version)


@pytest.mark.parametrize("version", list(OcppVersion))
def test_every_action_goes_one_way_but_data_transfer(version):
    from_stations, to_stations = calls_from_stations(version), calls_to_stations(version)
    assert from_stations | to_stations == known_actions(version)
    assert from_stations & to_stations == {"DataTransfer"}
    # What the edge routes is what stations send.
    assert set(ROUTES[version]) <= from_stations
    assert {"Reset", "TriggerMessage", "SendLocalList"} <= to_stations
    assert {"Heartbeat", "BootNotification", "Authorize"} <= from_stations


@pytest.mark.parametrize("fault, v16, v2x", [
    (Fault.FORMAT, "FormationViolation", "FormatViolation"),
    (Fault.OCCURRENCE_CONSTRAINT, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
    (Fault.RPC_FRAMEWORK, "FormationViolation", "RpcFrameworkError"),
    (Fault.MESSAGE_TYPE, "FormationViolation", "MessageTypeNotSupported"),
    (Fault.NOT_SUPPORTED, "NotSupported", "NotSupported"),
    (Fault.INTERNAL, "InternalError", "InternalError"),
])
def test_error_codes_are_spelled_per_version(fault, v16, v2x):
    assert error_code(OcppVersion.V16, fault) == v16
    assert error_code(OcppVersion.V201, fault) == v2x
    assert error_code(OcppVersion.V21, fault) == v2x


def test_settings_survive_the_trip_through_the_environment(monkeypatch):
    settings = Settings(edge_port=9100, edge_subprotocols=("ocpp1.6",), heartbeat_interval=60)
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings
