"""POST /stations/{id}/<operation>: every operation of chargebus.domain.operations, each
body the operation's own model, each performed by chargebus.operations.perform as the
command line performs it.

The answer is the station's (200, ``taken`` false where it refused), or a problem where
the station did not answer it: 409 offline, 422 refused by chargebus before sending,
502 the station's CALLERROR or an answer that broke its schema, 504 no answer in time.
With ``wait=false``: 202 at once, with the command's URL to poll (/commands/{id}).
A location of ``chargebus-files:`` stands for the file service
(chargebus.operations.locations): ``chargebus-files:<image>`` in a firmware update, and
``chargebus-files:`` (or ``:ftp``, ``:http``) in a log request.
"""
import logging
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from chargebus.domain import operations as ops
from chargebus.ocpp.clock import utc_now
from chargebus.operations import locations
from chargebus.operations.commands import DEFAULT_TIMEOUT, REPLY_MARGIN, Outcome
from chargebus.operations.perform import Performed, PerformedView, perform
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires, sender
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import ApiProblem, documented, not_found
from chargebus.services.api.routes.stations import StationId
from chargebus.state.records import ApiCommand, ApiKey

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])
commands_router = APIRouter(prefix="/commands", tags=["operations"])

MAX_TIMEOUT = 300.0
Operator = Annotated[ApiKey, Depends(requires(Scope.OPERATE))]
Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Context = Annotated[ApiContext, Depends(context)]

# The path under /stations/{id}/ of each operation, and what it does.
OPERATIONS: tuple[tuple[str, type[ops.Operation], str], ...] = (
    ("remote-start", ops.StartCharging, "Start charging: a remote start for a token"),
    ("remote-stop", ops.StopCharging, "Stop charging: a remote stop of a transaction"),
    ("reset", ops.Reset, "Reset the station or an EVSE"),
    ("availability", ops.ChangeAvailability,
     "Make the station, an EVSE or a connector operative or inoperative"),
    ("unlock", ops.UnlockConnector, "Unlock a connector"),
    ("trigger", ops.TriggerMessage, "Ask the station to send one of its messages now"),
    ("clear-cache", ops.ClearCache, "Clear the station's authorization cache"),
    ("configuration/get", ops.GetConfiguration, "Read configuration keys or variables"),
    ("configuration/set", ops.SetConfiguration, "Change configuration keys or variables"),
    ("configuration/fetch", ops.ReadDeviceModel,
     "Read the whole configuration into chargebus (1.6 GetConfiguration, 2.x GetBaseReport)"),
    ("data-transfer", ops.DataTransfer, "Send a vendor's DataTransfer"),
    ("reserve", ops.ReserveNow, "Reserve an EVSE (or any) for a token"),
    ("cancel-reservation", ops.CancelReservation, "Cancel a reservation"),
    ("charging-profiles/set", ops.SetChargingProfile, "Send a charging profile"),
    ("charging-profiles/clear", ops.ClearChargingProfile, "Clear charging profiles"),
    ("charging-profiles/fetch", ops.GetChargingProfiles,
     "Ask for the station's charging profiles (2.x ReportChargingProfiles follow)"),
    ("composite-schedule", ops.GetCompositeSchedule, "The station's composite schedule"),
    ("firmware/update", ops.UpdateFirmware, "Update the station's firmware from a URL"),
    ("logs/request", ops.RequestLog, "Ask for diagnostics or a security log upload"),
    ("display-messages/set", ops.SetDisplayMessage, "Show a message on the station"),
    ("display-messages/fetch", ops.GetDisplayMessages, "Ask for the messages it shows"),
    ("display-messages/clear", ops.ClearDisplayMessage, "Remove a message"),
    ("customer-information", ops.CustomerInformation,
     "Ask for, or clear, what the station holds of a customer"),
    ("monitors/set", ops.SetMonitors, "Set variable monitors (2.x)"),
    ("monitors/clear", ops.ClearMonitors, "Clear variable monitors (2.x)"),
    ("monitors/fetch", ops.ReadMonitors, "Ask for the monitors' report (2.x)"),
    ("monitoring/base", ops.SetMonitoringBase, "Set the monitoring base (2.x)"),
    ("monitoring/level", ops.SetMonitoringLevel, "Set the monitoring level (2.x)"),
)

# How each way of not getting the station's answer is told.
_PROBLEMS: dict[Outcome, tuple[int, str, str]] = {
    Outcome.OFFLINE: (409, "station-offline", "Station offline"),
    Outcome.REFUSED: (422, "operation-refused", "Refused by chargebus"),
    Outcome.ERROR: (502, "station-error", "The station answered with an error"),
    Outcome.INVALID: (502, "station-invalid", "The station's answer broke its schema"),
    Outcome.TIMEOUT: (504, "station-timeout", "No answer from the station in time"),
}


class CommandAccepted(ApiCommand):
    status_url: str


class CommandState(ApiCommand):
    # pending: not ended yet; done: ``performed`` says how it ended; lost: the API
    # process that sent it went away before it ended (the audit trail says the rest).
    state: str


def answer(performed: Performed) -> dict:
    if performed.result is None:
        status, kind, title = _PROBLEMS[performed.outcome]
        raise ApiProblem(status, kind, title, performed.reason, outcome=performed.outcome.value,
                         station_id=performed.station_id)
    return performed.as_json()


def _route(path: str, model: type[ops.Operation], summary: str) -> None:
    async def operate(
            request: Request, station_id: StationId, body: ops.Operation, key: Operator,
            api: Context,
            wait: Annotated[bool, Query(description="wait for the station's answer (false: "
                                                    "202 and a command to poll)")] = True,
            timeout: Annotated[float, Query(gt=0, le=MAX_TIMEOUT,
                                            description="seconds to wait for the station")]
            = DEFAULT_TIMEOUT,
            force: Annotated[bool, Query(description="remote start and reserve: send it even "
                                         "where chargebus would not authorize the token")]
            = False) -> dict | JSONResponse:
        api.station(key, station_id)
        try:
            operation = await locations.resolved(api.stores, api.settings, station_id, body,
                                                 sender(key), utc_now())
        except ValueError as error:  # no such image, no FTP
            raise ApiProblem(422, "operation-refused", "Refused by chargebus", str(error),
                             outcome=Outcome.REFUSED.value, station_id=station_id) from None
        if wait:
            return answer(await perform(api.nc, station_id, operation, sender=sender(key),
                                        timeout=timeout, force=force))
        command = await _start_command(api, station_id, operation, key, timeout, force)
        url = str(request.url_for("get_command", command_id=command.command_id).path)
        return JSONResponse(
            CommandAccepted(**command.model_dump(), status_url=url).model_dump(mode="json"),
            status_code=202, headers={"Location": url})

    # The body's model is the operation's own: FastAPI reads it from the signature.
    operate.__annotations__["body"] = model
    operate.__name__ = "operate_" + path.replace("/", "_").replace("-", "_")
    router.add_api_route(
        f"/stations/{{station_id}}/{path}", operate, methods=["POST"],
        response_model=PerformedView, summary=summary,
        responses={202: {"model": CommandAccepted, "description": "Sent; poll status_url"},
                   **documented(401, 403, 404, 409, 422, 429, 502, 504)})


for _path, _model, _summary in OPERATIONS:
    _route(_path, _model, _summary)


async def _start_command(api: ApiContext, station_id: str, operation: ops.Operation,
                         key: ApiKey, timeout: float, force: bool) -> ApiCommand:
    now = utc_now()
    command = ApiCommand(command_id=uuid.uuid4().hex, station_id=station_id,
                         operation=operation.NAME, requested_by=sender(key), requested_at=now,
                         deadline=now + timedelta(seconds=timeout + REPLY_MARGIN + 30))
    await api.stores.api_commands.put(command, command.command_id)

    async def run() -> None:
        try:
            performed = await perform(api.nc, station_id, operation, sender=sender(key),
                                      timeout=timeout, force=force)
            await api.stores.api_commands.put(
                command.model_copy(update={"performed": performed.as_json()}),
                command.command_id)
        except Exception:
            log.exception("command %s to %s failed", command.command_id, station_id)

    api.background(run())
    return command


@commands_router.get("/{command_id}", response_model=CommandState,
                     responses=documented(401, 403, 404, 422, 429),
                     summary="An operation sent with wait=false, and how it ended")
async def get_command(command_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
                      key: Reader, api: Context) -> CommandState:
    found = await api.stores.api_commands.get(command_id)
    if found is None or not api.reaches(key, found.station_id):
        raise not_found(f"no command {command_id}")
    state = ("done" if found.performed is not None
             else "lost" if utc_now() > found.deadline else "pending")
    return CommandState(**found.model_dump(), state=state)
