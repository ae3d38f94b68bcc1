"""How the Kim Thanh - Bac Son corridor map was drawn: writes corridor.geojson from this plausible layout.

Run ``.venv/bin/python maps/kim_thanh/layout.py`` after changing it; a test checks that the committed
corridor.geojson is exactly what this script writes. README.md beside this file says which numbers are
facts, which are approximate and which are assumptions (most of them: the AGV layout is not published).

Local frame: x east, y north, metres; (0, 0) is the Vietnamese (south-west) end of the Kim Thanh road
bridge over the Red River on its centre line. The bridge is drawn on a bearing of 45° (north-east) to
Bac Son, Hekou (CN). Traffic keeps right on both sides.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from layout_kit import Builder, SideSpec, build_crossing, build_side, to_wgs84  # noqa: E402

# --- approximate geography (README.md) ----------------------------------------------------------
BEARING_DEG = 45.0  # the bridge from the VN bank (south-west) to the CN bank (north-east)
# --- assumptions (README.md): the bridge's exact dimensions were not at hand ----------------------
BRIDGE_LENGTH = 280.0  # m
BRIDGE_WIDTH = 16.0  # m
BORDER_FROM_VN_END = 140.0  # m: the boundary follows the river; drawn at mid-deck
AGV_LANE_OFFSET = 5.0  # m from the centre line: one AGV lane each way


def _along_bridge(x: float, y: float) -> tuple[float, float]:
    """The VN side frame (y towards the bridge, x to the right of it) in the local frame."""
    b = math.radians(BEARING_DEG)
    return (x * math.cos(b) + y * math.sin(b), -x * math.sin(b) + y * math.cos(b))


def build() -> dict:
    b = Builder()
    common = dict(bridge_width=BRIDGE_WIDTH, lane_offset=AGV_LANE_OFFSET, inspection_bays=2, holding_slots=3,
                  parking_columns=14, chargers=6, docks=6)
    vn = SideSpec(prefix="vn", jurisdiction="VN", label="Kim Thành", approach_length=600.0,
                  border_distance=BORDER_FROM_VN_END, parking_rows=4, single_lane_inspection=True,
                  to_global=_along_bridge, **common)
    cn = SideSpec(prefix="cn", jurisdiction="CN", label="Bắc Sơn (北山)", approach_length=800.0,
                  border_distance=BRIDGE_LENGTH - BORDER_FROM_VN_END, parking_rows=4, single_lane_inspection=False,
                  to_global=lambda x, y: _along_bridge(-x, BRIDGE_LENGTH - y), **common)
    for side in (vn, cn):
        build_side(b, side)
    build_crossing(b, vn, cn, ("border_to_cn", "border_to_vn"))
    return {"type": "FeatureCollection", "name": "kim_thanh", "features": b.features}


def render_geojson() -> str:
    config = yaml.safe_load((HERE / "corridor.yaml").read_text())
    return json.dumps(to_wgs84(build(), config["origin"]), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    (HERE / "corridor.geojson").write_text(render_geojson(), encoding="utf-8")
    print(f"wrote {HERE / 'corridor.geojson'}")
