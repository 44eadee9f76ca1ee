"""/rollouts: firmware roll-outs over many stations, a few at a time
(chargebus.manage.rollouts, as `chargebus firmware rollout`). They span the network: a
key limited to some stations may not see or make them."""
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from chargebus.domain.rollouts import Rollout
from chargebus.manage import rollouts
from chargebus.ocpp.clock import utc_now
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires_network_wide, sender
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import ApiProblem, documented, not_found
from chargebus.state.records import ApiKey

router = APIRouter(prefix="/rollouts", tags=["firmware"])

Context = Annotated[ApiContext, Depends(context)]
RolloutId = Annotated[str, Path(pattern="^R-[0-9a-f]{8}$")]


Reader = Annotated[ApiKey, Depends(requires_network_wide(Scope.READ, "roll-outs"))]
Operator = Annotated[ApiKey, Depends(requires_network_wide(Scope.OPERATE, "roll-outs"))]


@router.post("", response_model=Rollout, status_code=201,
             responses=documented(401, 403, 422, 429),
             summary="Update the firmware of stations chosen by model, version or name")
async def create_rollout(request: rollouts.RolloutRequest, key: Operator, api: Context
                         ) -> Rollout:
    try:
        return await rollouts.create(api.stores, api.nc, request, sender(key), utc_now())
    except ValueError as error:  # no such image, no station chosen
        raise ApiProblem(422, "rollout-refused", "Roll-out refused", str(error)) from None


@router.get("", response_model=list[Rollout], responses=documented(401, 403, 422, 429),
            summary="The roll-outs, newest first")
async def list_rollouts(key: Reader, api: Context) -> list[Rollout]:
    return sorted(await api.stores.rollouts.all(), key=lambda each: each.created_at,
                  reverse=True)


@router.get("/{rollout_id}", response_model=Rollout,
            responses=documented(401, 403, 404, 422, 429), summary="One roll-out")
async def get_rollout(rollout_id: RolloutId, key: Reader, api: Context) -> Rollout:
    found = await api.stores.rollouts.get(rollout_id)
    if found is None:
        raise not_found(f"no roll-out {rollout_id}")
    return found


@router.post("/{rollout_id}/{change}", response_model=Rollout,
             responses=documented(401, 403, 404, 409, 422, 429),
             summary="Pause, resume or cancel a roll-out")
async def change_rollout(rollout_id: RolloutId, change: rollouts.Change, key: Operator,
                         api: Context) -> Rollout:
    changed = await rollouts.change(api.stores, api.nc, rollout_id, change, sender(key))
    if changed is None:
        raise not_found(f"no roll-out {rollout_id}")
    before, after = changed
    if after.state is before.state:
        raise ApiProblem(409, "rollout-unchanged", "Nothing to change",
                         f"{rollout_id} is {after.state.value}")
    return after
