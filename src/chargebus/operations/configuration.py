"""What the stations' answers to configuration reads and changes say, kept in their
device model in KV (chargebus.domain.devicemodel): 1.6 keys as GetConfiguration gives
them and accepted ChangeConfigurations change them; 2.x attributes as GetVariables and
accepted SetVariables give them (whole reports come as NotifyReport, to the workers),
and the 2.x monitors the station accepted (SetVariableMonitoring) or cleared."""
import functools

from chargebus.domain import devicemodel
from chargebus.domain.operations import (TAKEN, ClearMonitors, GetConfiguration, Operation,
                                         OperationResult, ReadDeviceModel, SetConfiguration,
                                         SetMonitors, VariableResult)
from chargebus.ocpp.clock import utc_now
from chargebus.state.stores import Stores, component_key, components_of

# What a station answers for a value it holds (read); what it took is operations.TAKEN.
_READ = ("Accepted",)


async def record(stores: Stores, station_id: str, operation: Operation,
                 result: OperationResult) -> None:
    if isinstance(operation, SetMonitors | ClearMonitors):
        await _record_monitors(stores, station_id, operation, result)
        return
    if isinstance(operation, GetConfiguration | ReadDeviceModel):
        kept = [variable for variable in result.variables if variable.status in _READ]
    elif isinstance(operation, SetConfiguration):
        kept = [variable for variable in result.variables if variable.status in TAKEN]
    else:
        return
    by_component: dict[devicemodel.ComponentRef, list[VariableResult]] = {}
    for variable in kept:
        by_component.setdefault(devicemodel.ref_of(variable.name), []).append(variable)
    for ref, variables in by_component.items():
        def change(current: devicemodel.Component | None,
                   ref: devicemodel.ComponentRef = ref,
                   variables: list[VariableResult] = variables) -> devicemodel.Component:
            component = current
            for variable in variables:
                component = devicemodel.with_value(
                    component, station_id, ref, variable.name, variable.value, utc_now(),
                    read_only=variable.read_only,
                    reboot_required=variable.status == "RebootRequired")
            assert component is not None  # at least one variable
            return component
        await stores.components.modify(change, *component_key(station_id, ref))


async def _record_monitors(stores: Stores, station_id: str,
                           operation: SetMonitors | ClearMonitors, result: OperationResult
                           ) -> None:
    """Monitors the station accepted, kept on their variables; those it cleared, gone."""
    now = utc_now()
    if isinstance(operation, ClearMonitors):
        cleared = set(result.cleared)
        if not cleared:
            return
        for component in await stores.components.all(*components_of(station_id)):
            await stores.components.modify(
                lambda current: devicemodel.without_monitors(current, cleared, now),
                *component_key(station_id, component.ref))
        return
    for setting, answer in zip(operation.monitors, result.monitors, strict=False):
        if answer.status != "Accepted" or answer.monitor_id is None:
            continue
        ref = devicemodel.ref_of(setting.name)
        monitor = devicemodel.Monitor(kind=setting.kind, value=setting.value,
                                      severity=setting.severity,
                                      transaction=setting.transaction)
        await stores.components.modify(
            functools.partial(devicemodel.with_monitor, station_id=station_id, ref=ref,
                              name=setting.name.variable,
                              instance=setting.name.variable_instance,
                              monitor_id=answer.monitor_id, monitor=monitor, now=now),
            *component_key(station_id, ref))
