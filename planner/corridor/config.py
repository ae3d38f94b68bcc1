"""``corridor.yaml`` as one strict pydantic model.

Every key is known (a misspelt one is refused with a "did you mean" suggestion rather than silently
replaced by its default), every value typed and ranged (``min_headway_s: 2.5 s`` is refused naming the
field, instead of crashing the planner later), and the declared units are read: ``units.speed`` converts
the lanes' ``max_speed``, ``units.length`` must be metres, the unit of the local frame and of every
``*_m`` parameter. docs/maps.md documents the model.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from planner.corridor.errors import MapError, MapProblem

__all__ = ["SPEED_UNITS", "CorridorConfig", "OriginConfig", "Parameters", "Units", "read_config"]

#: metres per second in one unit of ``units.speed``
SPEED_UNITS = {"m/s": 1.0, "km/h": 1000.0 / 3600.0}
CONFIG_FILE = "corridor.yaml"
#: a plain number: "2.5 s" or "2.5" (a string) is refused, not parsed
Number = Annotated[float, Strict()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OriginConfig(_Strict):
    """WGS84 position of the local frame's (0, 0)."""

    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)


class Units(_Strict):
    length: Literal["m"] = "m"  # the local frame and every *_m parameter are metres
    speed: Literal["m/s", "km/h"] = "m/s"  # unit of the lanes' max_speed in corridor.geojson


class Parameters(_Strict):
    """How the corridor is operated, and the spacing rules (planner.schedule.FollowingRules)."""

    handoff_mode: Literal["through", "relay"] = "through"
    handoff_transfer_s: Number = Field(180.0, ge=0, le=3600)  # relay: container transfer at the handoff pad
    agv_length_m: Number = Field(15.0, gt=0, le=40)
    agv_width_m: Number = Field(3.0, gt=0, le=6)  # lanes closer than this meet (a conflict zone)
    standstill_gap_m: Number = Field(2.0, ge=0, le=50)
    min_headway_s: Number = Field(2.0, ge=0, le=60)


class CorridorConfig(_Strict):
    """The whole ``corridor.yaml``."""

    name: str = Field("unnamed corridor", min_length=1)
    origin: OriginConfig
    units: Units = Units()
    jurisdictions: tuple[str, str] = ("VN", "CN")
    parameters: Parameters = Parameters()

    @field_validator("jurisdictions")
    @classmethod
    def _two_sides(cls, value: tuple[str, str]) -> tuple[str, str]:
        if not all(value) or value[0] == value[1]:
            raise ValueError("must list two distinct names, e.g. [VN, CN]")
        return value

    @property
    def speed_factor(self) -> float:
        """m/s per unit of the map's ``max_speed``."""
        return SPEED_UNITS[self.units.speed]


def read_config(config: Any) -> CorridorConfig:
    """The checked config, or :class:`MapError` naming every bad key or value.

    >>> read_config({"origin": {"lat": 21.5, "lon": 107.9}, "paramaters": {}})
    Traceback (most recent call last):
    ...
    planner.corridor.errors.MapError: corridor map refused (1 problem):
      - corridor.yaml: unknown key 'paramaters' (did you mean 'parameters'?)
    """
    if not isinstance(config, Mapping):
        raise MapError([MapProblem(CONFIG_FILE, "must be a mapping", kind="corridor.yaml not a mapping")])
    try:
        return CorridorConfig.model_validate(dict(config))
    except ValidationError as error:
        raise MapError([_problem(e) for e in error.errors()]) from None


def _problem(error: Mapping[str, Any]) -> MapProblem:
    path = [str(part) for part in error["loc"]]
    where = ".".join(path)
    if error["type"] == "extra_forbidden":
        known = _fields_at(path[:-1])
        close = difflib.get_close_matches(path[-1], known, n=1, cutoff=0.6)
        hint = f"did you mean {'.'.join([*path[:-1], close[0]])!r}?" if close else f"known keys: {', '.join(known)}"
        return MapProblem(CONFIG_FILE, f"unknown key {where!r} ({hint})", kind="unknown key in corridor.yaml")
    if error["type"] == "missing":
        return MapProblem(CONFIG_FILE, f"{where} is missing", kind="missing key in corridor.yaml")
    return MapProblem(CONFIG_FILE, f"{where}: {error['msg'].lower()}, got {error.get('input')!r}",
                      kind="bad value in corridor.yaml")


def _fields_at(path: list[str]) -> list[str]:
    """The keys allowed at ``path`` in the model."""
    model: type[BaseModel] = CorridorConfig
    for part in path:
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
