"""The AGV parameters shared with the vehicle side: ``ros_ws/src/agv_agent/config/agv.yaml``.

The Gazebo model takes its size, mass and DiffDrive limits from that file so a Gazebo vehicle and
``sim_base`` agree; nothing here repeats its numbers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AGV_PARAMS = REPO_ROOT / "ros_ws" / "src" / "agv_agent" / "config" / "agv.yaml"
_ROS_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


class AgvParamsError(ValueError):
    """The AGV parameter file is missing, unreadable or lacks a key the model needs."""


@dataclass(frozen=True)
class AgvParams:
    fleet_namespace: str
    vehicle_length: float
    vehicle_width: float
    vehicle_mass: float
    wheel_separation: float
    wheel_radius: float
    max_linear_speed: float
    max_angular_speed: float
    max_linear_accel: float
    max_linear_decel: float
    max_angular_accel: float


def load_agv_params(path: Path = DEFAULT_AGV_PARAMS) -> AgvParams:
    """Read the ``/**: ros__parameters`` block of a ROS 2 parameter file into :class:`AgvParams`."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgvParamsError(f"AGV parameter file missing: {path}") from None
    except yaml.YAMLError as exc:
        raise AgvParamsError(f"{path}: cannot be parsed: {exc}") from None
    try:
        values = document["/**"]["ros__parameters"]
    except (KeyError, TypeError):
        raise AgvParamsError(f"{path}: no '/**: ros__parameters' block") from None
    missing = [f.name for f in fields(AgvParams) if f.name not in values]
    if missing:
        raise AgvParamsError(f"{path}: missing {', '.join(missing)}")
    read: dict[str, Any] = {f.name: values[f.name] if f.type == "str" else float(values[f.name])
                            for f in fields(AgvParams)}
    params = AgvParams(**read)
    if ros_name(params.fleet_namespace) != params.fleet_namespace:
        raise AgvParamsError(f"{path}: fleet_namespace {params.fleet_namespace!r} is not a valid ROS name")
    return params


def ros_name(text: str) -> str:
    """``text`` made safe as one ROS name token: letters, digits, underscores, not starting with a digit.

    A text that had to be changed gets a short digest of itself: ``vn_cổng_1`` and ``vn_cống_1`` (two gates) would
    otherwise both be ``vn_c_ng_1``, one model name and one barrier topic for two gates."""
    safe = _ROS_NAME_UNSAFE.sub("_", text)
    if safe != text:
        safe += "_" + hashlib.blake2s(text.encode("utf-8"), digest_size=3).hexdigest()
    return safe if safe[:1].isalpha() or safe[:1] == "_" else f"n_{safe}"
