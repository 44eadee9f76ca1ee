"""Firmware roll-outs (chargebus.domain.rollouts) made, paused, resumed and cancelled,
from the command line and the HTTP API alike; the workers drive them
(chargebus.services.workers.rollouts), and are asked to go on at once after each change."""
import uuid
from datetime import datetime
from typing import Literal

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel, Field, model_validator

from chargebus.bus import subjects
from chargebus.domain import rollouts
from chargebus.domain.rollouts import Rollout, RolloutState
from chargebus.files import grants
from chargebus.operations import audit
from chargebus.state.stores import Stores

RESOURCE = "rollouts"
DEFAULT_AT_MOST = 10
DEFAULT_PAUSE_SHARE = 0.1

Change = Literal["pause", "resume", "cancel"]


class RolloutRequest(BaseModel):
    """A roll-out to make: a URL or an image chargebus holds, and the stations, by model,
    by the firmware they run, or named."""

    url: str | None = Field(default=None, min_length=1, max_length=512)
    image: str | None = Field(default=None, min_length=1, max_length=128)
    model: str | None = Field(default=None, min_length=1, max_length=64)
    from_firmware: str | None = Field(default=None, min_length=1, max_length=64)
    stations: list[str] | None = Field(default=None, min_length=1)
    at_most: int = Field(default=DEFAULT_AT_MOST, ge=1, le=100_000)
    pause_share: float = Field(default=DEFAULT_PAUSE_SHARE, ge=0, le=1)
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    signature: str | None = Field(default=None, min_length=1, max_length=800)
    signing_certificate: str | None = Field(default=None, min_length=1, max_length=5500)

    @model_validator(mode="after")
    def _one_source_and_one_choice(self) -> "RolloutRequest":
        if (self.url is None) == (self.image is None):
            raise ValueError("a roll-out takes either url or image")
        chosen = [name for name in ("model", "from_firmware", "stations")
                  if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError("a roll-out chooses its stations by one of model, "
                             "from_firmware or stations")
        return self


class NothingChosen(ValueError):
    """No station matches what a roll-out was to update."""


async def create(stores: Stores, nc: Client, request: RolloutRequest, sender: str,
                 now: datetime) -> Rollout:
    """The new roll-out, under way; ValueError (grants.ImageMissing, NothingChosen)
    where it cannot be."""
    if request.image is not None:
        await grants.held_image(stores, request.image)
    if request.stations is not None:
        chosen = list(dict.fromkeys(request.stations))
    else:
        known = await stores.stations.all()
        chosen = sorted(info.station_id for info in known
                        if (request.model is None or info.model == request.model)
                        and (request.from_firmware is None
                             or info.firmware_version == request.from_firmware))
    if not chosen:
        raise NothingChosen("no station is chosen")
    record = Rollout(
        rollout_id=f"R-{uuid.uuid4().hex[:8]}",
        location=request.url or grants.FILE_SERVICE, image=request.image,
        retries=request.retries, retry_interval=request.retry_interval,
        signature=request.signature, signing_certificate=request.signing_certificate,
        at_most=request.at_most, pause_share=request.pause_share,
        stations=[rollouts.RolloutStation(station_id=each) for each in chosen],
        created_by=sender, created_at=now)
    await stores.rollouts.put(record, record.rollout_id)
    await audit.record_change(nc.jetstream(), audit.change(
        sender, RESOURCE, "create", record.rollout_id,
        {"location": record.location, "stations": len(chosen)}))
    await ask_workers(nc, record.rollout_id)
    return record


async def change(stores: Stores, nc: Client, rollout_id: str, what: Change, sender: str
                 ) -> tuple[Rollout, Rollout] | None:
    """The roll-out before and after the change (the same state: nothing changed); None
    where there is no such roll-out."""
    def changed(record: Rollout | None) -> Rollout | None:
        if record is None:
            return None
        if what == "resume":
            return rollouts.resumed(record)
        if record.state in (RolloutState.DONE, RolloutState.CANCELLED):
            return None
        state = RolloutState.PAUSED if what == "pause" else RolloutState.CANCELLED
        return record.model_copy(update={"state": state})

    before = await stores.rollouts.get(rollout_id)
    if before is None:
        return None
    after = await stores.rollouts.modify(changed, rollout_id)
    assert after is not None  # it was there
    if after.state is not before.state:
        await audit.record_change(nc.jetstream(), audit.change(sender, RESOURCE, what,
                                                               rollout_id))
        await ask_workers(nc, rollout_id)
    return before, after


async def ask_workers(nc: Client, rollout_id: str) -> bool:
    """Ask a worker to drive the roll-out now; False where none answered (it goes on
    when one runs)."""
    try:
        await nc.request(subjects.rollout_advance(), rollout_id.encode(), timeout=2)
    except (NoRespondersError, NatsTimeoutError):
        return False
    return True
