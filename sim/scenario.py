"""Simulation scenarios: one YAML file each (``sim/scenarios/``), checked by pydantic.

A scenario says which corridor, how it is operated (through or relay), the fleet, the demand over the day, how
each side's customs behave, the gate pass time, the faults to inject, how long to run and the seed. Every
figure has a default from public figures (issue #13): VN channels green 65 % (median 5 min), yellow 25 %
(median 45 min), red 10 % (a 10 min scan, then a physical inspection of median 3 h); CN inspects 7 % (1 to
3 h); a gate pass takes 15 to 45 s. :func:`load_scenario` reads and checks a file and raises
:class:`ScenarioError` naming the field that is wrong (``fleet.size: ...``), never a traceback.

Both simulation modes take the same :class:`Scenario`: the fast mode (``sim.fast``) and the ROS mode.
"""

from __future__ import annotations

import math
import random
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fleet.config import describe_invalid

__all__ = [
    "BatteryModel",
    "Channel",
    "CustomsSide",
    "Delay",
    "Demand",
    "Faults",
    "FleetModel",
    "OperatingModel",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_path",
]

#: Where the shipped scenarios live, and the repository root the ``map`` field's bundled names resolve from.
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
REPO_ROOT = Path(__file__).resolve().parent.parent
HOURS = 24


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not validate; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperatingModel(StrEnum):
    THROUGH = "through"  # one AGV drives yard to yard across the bridge
    RELAY = "relay"  # each side's AGVs stay home; containers change hands at the handoff pad


class LognormalDelay(_Strict):
    kind: Literal["lognormal"] = "lognormal"
    median_min: float = Field(gt=0)
    sigma: float = Field(0.5, ge=0, le=3, description="shape: 0 is always the median")

    def sample_s(self, rng: random.Random) -> float:
        return 60.0 * rng.lognormvariate(math.log(self.median_min), self.sigma)


class UniformDelay(_Strict):
    kind: Literal["uniform"] = "uniform"
    low_min: float = Field(ge=0)
    high_min: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> UniformDelay:
        if self.high_min < self.low_min:
            raise ValueError(f"high_min ({self.high_min}) is below low_min ({self.low_min})")
        return self

    def sample_s(self, rng: random.Random) -> float:
        return 60.0 * rng.uniform(self.low_min, self.high_min)


Delay = Annotated[LognormalDelay | UniformDelay, Field(discriminator="kind")]


class Channel(_Strict):
    """One customs channel: its share of the consignments, a fixed scan and then a random delay."""

    share: float = Field(ge=0, le=1)
    scan_min: float = Field(0.0, ge=0, description="a fixed part before the delay (red: the scanner)")
    delay: Delay

    def sample_s(self, rng: random.Random) -> float:
        return 60.0 * self.scan_min + self.delay.sample_s(rng)


def _vn_channels() -> dict[str, Channel]:
    return {"green": Channel(share=0.65, delay=LognormalDelay(median_min=5)),
            "yellow": Channel(share=0.25, delay=LognormalDelay(median_min=45)),
            "red": Channel(share=0.10, scan_min=10, delay=LognormalDelay(median_min=180))}


def _cn_channels() -> dict[str, Channel]:
    return {"green": Channel(share=0.93, delay=LognormalDelay(median_min=5)),
            "red": Channel(share=0.07, delay=UniformDelay(low_min=60, high_min=180))}


class CustomsSide(_Strict):
    """One side's customs: its authority's name and how it clears consignments (channel mix and delays)."""

    authority: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,31}$")
    channels: dict[Literal["green", "yellow", "red"], Channel]
    hold_rate: float = Field(0.0, ge=0, le=1, description="share of released consignments put on hold a while")
    hold: Delay = LognormalDelay(median_min=15)

    @field_validator("channels")
    @classmethod
    def _shares_add_up(cls, channels: dict[str, Channel]) -> dict[str, Channel]:
        if not channels:
            raise ValueError("at least one channel")
        total = sum(c.share for c in channels.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"channel shares add up to {total:g}, not 1")
        return channels


def _default_customs() -> dict[str, CustomsSide]:
    return {"VN": CustomsSide(authority="VN_CUSTOMS", channels=_vn_channels()),
            "CN": CustomsSide(authority="CN_CUSTOMS", channels=_cn_channels())}


class BatteryModel(_Strict):
    initial_percent: tuple[float, float] = Field((60.0, 100.0), description="each vehicle starts in this range")
    capacity_kwh: float = Field(280.0, gt=0)
    consumption_kwh_per_km: float = Field(2.2, gt=0)
    charging_kw: float = Field(150.0, gt=0)

    @field_validator("initial_percent")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low <= high <= 100:
            raise ValueError(f"need 0 <= low <= high <= 100, got [{low}, {high}]")
        return value


class FleetModel(_Strict):
    size: int = Field(ge=1, le=500)
    cross_share: float = Field(1.0, ge=0, le=1, description="share of the vehicles authorized to cross")
    max_speed_kmh: float = Field(25.0, gt=0, le=60, description="the vehicles' top speed (lanes may be slower)")
    battery: BatteryModel = BatteryModel()


class Demand(_Strict):
    """Orders each way, ``per_hour`` scaled by the hour's weight in ``profile`` (24 weights, mean 1 after
    normalising): orders a day each way = 24 x per_hour."""

    per_hour: dict[str, float] = Field(description='orders an hour each way, by direction: {"VN->CN": 6, ...}')
    profile: list[float] = Field(default_factory=lambda: [1.0] * HOURS, description="24 hourly weights")
    containers: tuple[int, int] = Field((1, 2), description="consignments (containers) per order: low, high")
    declared_before_min: float = Field(30.0, ge=0, description="customs declaration lodged this long before the "
                                                               "order is ready at its dock")
    due_after_min: float = Field(240.0, gt=0, description="each order's latest delivery after it is ready")
    last_order_min: float | None = Field(None, gt=0, description="no order is ready after this (default: orders "
                                                                 "all along): a run that ends with the fleet idle")

    @field_validator("per_hour")
    @classmethod
    def _directions(cls, value: dict[str, float]) -> dict[str, float]:
        for direction, rate in value.items():
            if not _is_direction(direction):
                raise ValueError(f"{direction!r} is not a direction like 'VN->CN'")
            if rate < 0 or not math.isfinite(rate):
                raise ValueError(f"{direction}: a rate must be a finite number >= 0, not {rate}")
        if not any(value.values()):
            raise ValueError("no orders in any direction")
        return value

    @field_validator("profile")
    @classmethod
    def _day(cls, value: list[float]) -> list[float]:
        if len(value) != HOURS:
            raise ValueError(f"give {HOURS} hourly weights, not {len(value)}")
        if any(w < 0 or not math.isfinite(w) for w in value) or not sum(value):
            raise ValueError("weights must be finite, >= 0 and not all 0")
        return value

    @field_validator("containers")
    @classmethod
    def _containers(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1] <= 2:
            raise ValueError(f"an AGV carries 1 or 2 containers: need 1 <= low <= high <= 2, got {list(value)}")
        return value

    def rate(self, direction: str, hour: int) -> float:
        """Orders an hour in ``direction`` during ``hour`` (0-23) of the day."""
        weights = self.profile
        return self.per_hour.get(direction, 0.0) * weights[hour % HOURS] * HOURS / sum(weights)

    def per_day(self, direction: str) -> float:
        return HOURS * self.per_hour.get(direction, 0.0)


def _is_direction(text: str) -> bool:
    parts = text.split("->")
    return len(parts) == 2 and all(len(p) == 2 and p.isupper() for p in parts) and parts[0] != parts[1]


class Window(_Strict):
    start_h: float = Field(ge=0)
    duration_min: float = Field(gt=0)


class CustomsOutage(Window):
    authority: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,31}$", description="the authority that goes silent")


class GateHold(Window):
    gate: str | None = Field(None, description="the gate node an operator holds (default: every gate of side)")
    side: str = Field("VN", pattern=r"^[A-Z]{2}$")


class Faults(_Strict):
    breakdowns_per_vehicle_day: float = Field(0.0, ge=0, description="vehicle faults (taken out of service)")
    repair_min: Delay = LognormalDelay(median_min=60)
    link_losses_per_vehicle_day: float = Field(0.0, ge=0, description="a vehicle drops off the fleet link")
    link_loss_s: Delay = UniformDelay(low_min=0.2, high_min=3)
    customs_outages: list[CustomsOutage] = []
    operator_holds: list[GateHold] = []
    forged_events: int = Field(0, ge=0, description="events signed with a key not the authority's")
    equivocating_events: int = Field(0, ge=0, description="a seq reused by the authority with other content")


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    description: str = ""
    map: str = Field(description="a corridor folder: a path relative to the scenario file, or a bundled map's "
                                 "name (bac_luan_ii, kim_thanh)")
    operating_model: OperatingModel = OperatingModel.THROUGH
    duration_h: float = Field(24.0, gt=0, le=24 * 7)
    warmup_min: float = Field(0.0, ge=0, description="orders start after this; metrics count from it")
    seed: int = Field(1, ge=0)
    fleet: FleetModel
    demand: Demand
    customs: dict[str, CustomsSide] = Field(default_factory=_default_customs,
                                            description="by side (VN, CN): each side's authority and channels")
    gate_pass_s: tuple[float, float] = Field((15.0, 45.0), description="a gate pass at the departure side's gate")
    link_timeout_s: float = Field(60.0, gt=0, description="the fleet's customs link timeout")
    heartbeat_s: float = Field(15.0, gt=0, description="each authority's heartbeat period")
    faults: Faults = Faults()

    @field_validator("gate_pass_s")
    @classmethod
    def _pass(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] <= value[1]:
            raise ValueError(f"need 0 <= low <= high, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if len(self.customs) != 2:
            raise ValueError(f"customs: give exactly two sides, not {sorted(self.customs)}")
        sides = set(self.customs)
        for direction in self.demand.per_hour:
            if set(direction.split("->")) != sides:
                raise ValueError(f"demand.per_hour: {direction} is not between the customs sides {sorted(sides)}")
        names = {side.authority for side in self.customs.values()}
        if len(names) != 2:
            raise ValueError("customs: the two sides need different authority names")
        for i, outage in enumerate(self.faults.customs_outages):
            if outage.authority not in names:
                raise ValueError(f"faults.customs_outages.{i}.authority: {outage.authority!r} is not one of "
                                 f"{sorted(names)}")
        for i, hold in enumerate(self.faults.operator_holds):
            if hold.side not in sides:
                raise ValueError(f"faults.operator_holds.{i}.side: {hold.side!r} is not one of {sorted(sides)}")
        return self

    @property
    def duration_s(self) -> float:
        return 3600.0 * self.duration_h

    def authority_of(self, side: str) -> str:
        return self.customs[side].authority

    def map_folder(self, base: Path | None = None) -> Path:
        """The corridor folder: relative to ``base`` (the scenario file's folder), else a bundled map."""
        path = Path(self.map)
        if path.is_absolute():
            return path
        if base is not None and (base / path).is_dir():
            return (base / path).resolve()
        bundled = REPO_ROOT / "maps" / path.name
        return bundled if bundled.is_dir() else path

    def with_fleet(self, size: int) -> Scenario:
        """The same scenario with another fleet size (the sweep)."""
        return self.model_copy(update={"fleet": self.fleet.model_copy(update={"size": size})})


def scenario_path(name_or_path: str | Path) -> Path:
    """A scenario file: a path, or the name of a shipped one (``target_2030`` -> sim/scenarios/target_2030.yaml)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml"):
        return path
    return SCENARIOS_DIR / f"{path.name}.yaml"


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and check a scenario; :class:`ScenarioError` says what is wrong and in which field.

    The map must exist (a folder with ``corridor.yaml``); it is resolved against the scenario file's folder
    and stored absolute in the returned scenario.
    """
    path = scenario_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = ", ".join(sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml")))
        raise ScenarioError(f"{path}: no such scenario file (shipped scenarios: {shipped})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read it: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping (name, map, fleet, demand, ...)")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {describe_invalid(exc)}") from None
    folder = scenario.map_folder(path.resolve().parent)
    if not (folder / "corridor.yaml").is_file():
        raise ScenarioError(f"{path}: map: {scenario.map!r} is no corridor folder (looked for {folder}/corridor.yaml)")
    return scenario.model_copy(update={"map": str(folder)})


