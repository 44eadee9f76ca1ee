"""Where the power of a site comes from and where it goes: a site's grid connection, the
groups nested under it (feeders, a car park's floor), and the EVSEs on each, with the
grid phases each is wired to.

A site is one record: the load manager divides it as a whole, so its groups and EVSEs
change together. Limits are in A per phase; a limit given in W is turned into A per
phase by the group's nominal voltage and phase count.
"""
import enum
from typing import Self

from pydantic import BaseModel, Field, model_validator

# What a car needs at least to charge (IEC 61851-1: 6 A is the lowest duty cycle a
# charging station may offer).
MIN_CURRENT = 6.0


class Phase(enum.StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


class Group(BaseModel, frozen=True):
    """A site (no ``parent``) or a group within one, with the limit of its supply."""

    group_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    parent: str | None = None
    amperes: float | None = Field(default=None, gt=0)  # per phase
    watts: float | None = Field(default=None, gt=0)  # over its phases
    phases: int = Field(default=3, ge=1, le=3)
    voltage: float = Field(default=230.0, gt=0)  # phase to neutral

    @model_validator(mode="after")
    def _one_limit(self) -> Self:
        if (self.amperes is None) == (self.watts is None):
            raise ValueError(f"group {self.group_id} has a limit in A per phase or in W, "
                             f"one of them")
        return self

    def grid_phases(self) -> tuple[Phase, ...]:
        return tuple(Phase)[:self.phases]

    def amperes_per_phase(self) -> float:
        if self.amperes is not None:
            return self.amperes
        assert self.watts is not None  # one of them, said the validator
        return self.watts / (self.voltage * self.phases)


class Evse(BaseModel, frozen=True):
    """An EVSE (1.6: connector) of a station in a group. ``phases`` are the grid phases
    its conductors 1, 2, 3 are wired to, in that order (phase rotation): a single-phase
    car loads the first of them only."""

    station_id: str = Field(min_length=1)
    evse_id: int = Field(ge=1)
    group_id: str
    phases: tuple[Phase, ...] = (Phase.L1, Phase.L2, Phase.L3)
    min_current: float = Field(default=MIN_CURRENT, ge=0)
    max_current: float = Field(default=32.0, gt=0)
    priority: int = 0  # higher is served first

    @model_validator(mode="after")
    def _wiring(self) -> Self:
        if not 1 <= len(self.phases) <= 3 or len(set(self.phases)) != len(self.phases):
            raise ValueError(f"{self.station_id} EVSE {self.evse_id} is wired to one, two "
                             f"or three different phases")
        if self.min_current > self.max_current:
            raise ValueError(f"{self.station_id} EVSE {self.evse_id}: its minimum is above "
                             f"its maximum")
        return self

    @property
    def key(self) -> tuple[str, int]:
        return self.station_id, self.evse_id


class Site(BaseModel, frozen=True):
    """A site's groups (the site itself first among them) and its EVSEs."""

    site_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    groups: tuple[Group, ...] = Field(min_length=1)
    evses: tuple[Evse, ...] = ()

    @model_validator(mode="after")
    def _a_tree(self) -> Self:
        root, *rest = self.groups
        if root.group_id != self.site_id or root.parent is not None:
            raise ValueError(f"the first group of site {self.site_id} is the site itself, "
                             f"with no parent")
        known = {root.group_id: root}
        for group in rest:  # a parent before its children: no cycle can be written
            if group.group_id in known:
                raise ValueError(f"group {group.group_id} is given twice")
            parent = known.get(group.parent or "")
            if parent is None:
                raise ValueError(f"group {group.group_id}'s parent {group.parent} is not "
                                 f"given before it")
            if not set(group.grid_phases()) <= set(parent.grid_phases()):
                raise ValueError(f"group {group.group_id} has more phases than its parent")
            known[group.group_id] = group
        seen: set[tuple[str, int]] = set()
        for evse in self.evses:
            home = known.get(evse.group_id)
            if home is None:
                raise ValueError(f"{evse.station_id} EVSE {evse.evse_id} is in group "
                                 f"{evse.group_id}, which the site does not have")
            if not set(evse.phases) <= set(home.grid_phases()):
                raise ValueError(f"{evse.station_id} EVSE {evse.evse_id} is wired to a "
                                 f"phase its group does not have")
            if evse.key in seen:
                raise ValueError(f"{evse.station_id} EVSE {evse.evse_id} is given twice")
            seen.add(evse.key)
        return self

    def group(self, group_id: str) -> Group:
        return next(group for group in self.groups if group.group_id == group_id)

    def path(self, group_id: str) -> list[Group]:
        """The group and those above it, up to the site."""
        path = []
        current: str | None = group_id
        while current is not None:
            group = self.group(current)
            path.append(group)
            current = group.parent
        return path

    def stations(self) -> set[str]:
        return {evse.station_id for evse in self.evses}
