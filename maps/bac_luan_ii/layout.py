"""How the Bac Luan II corridor map was drawn: writes corridor.geojson from this plausible layout.

Run ``.venv/bin/python maps/bac_luan_ii/layout.py`` after changing it; a test checks that the committed
corridor.geojson is exactly what this script writes, so the two never drift apart. The measured
facts and the assumptions behind every number are in README.md beside this file.

Local frame: x east, y north, metres; (0, 0) is the Vietnamese end of the bridge on its centre line.
The bridge runs north from Mong Cai (VN, south bank of the Ka Long / Beilun river) to Dongxing (CN).
Traffic keeps right, so the VN->CN AGV lane is on the east side of the deck (x > 0).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from layout_kit import Builder, SideSpec, build_crossing, build_side, to_wgs84  # noqa: E402

# --- measured facts (README.md cites them) -----------------------------------------------------
BRIDGE_LENGTH = 618.0  # m
BRIDGE_WIDTH = 27.7  # m
BORDER_FROM_VN_END = 154.5  # m, the demarcation line on the deck
# --- plausible layout (the AGV channel's real layout is not published) -------------------------
AGV_LANE_OFFSET = 9.0  # m from the centre line: the outermost traffic lane each way


def build(vn_changes: Mapping[str, Any] | None = None, cn_changes: Mapping[str, Any] | None = None) -> dict:
    """The corridor as GeoJSON in the local frame; ``*_changes`` alter a side's spec (tests draw variants, e.g.
    a yard with two parking spots)."""
    b = Builder()
    vn = SideSpec(
        prefix="vn", jurisdiction="VN", label="Mong Cai", approach_length=2000.0, border_distance=BORDER_FROM_VN_END,
        parking_rows=6, parking_columns=20, chargers=8, docks=8, inspection_bays=3, holding_slots=4,
        single_lane_inspection=False, to_global=lambda x, y: (x, y), bridge_width=BRIDGE_WIDTH,
        lane_offset=AGV_LANE_OFFSET)
    cn = SideSpec(
        prefix="cn", jurisdiction="CN", label="Dongxing", approach_length=1800.0,
        border_distance=BRIDGE_LENGTH - BORDER_FROM_VN_END, parking_rows=5, parking_columns=20, chargers=8, docks=8,
        inspection_bays=3, holding_slots=4, single_lane_inspection=True,
        to_global=lambda x, y: (-x, BRIDGE_LENGTH - y), bridge_width=BRIDGE_WIDTH, lane_offset=AGV_LANE_OFFSET)
    vn, cn = replace(vn, **(vn_changes or {})), replace(cn, **(cn_changes or {}))
    for side in (vn, cn):
        build_side(b, side)
    build_crossing(b, vn, cn, ("border_northbound", "border_southbound"))
    return {"type": "FeatureCollection", "name": "bac_luan_ii", "features": b.features}


def render_geojson(**changes: Mapping[str, Any]) -> str:
    config = yaml.safe_load((HERE / "corridor.yaml").read_text())
    return json.dumps(to_wgs84(build(**changes), config["origin"]), indent=1) + "\n"


if __name__ == "__main__":
    (HERE / "corridor.geojson").write_text(render_geojson())
    print(f"wrote {HERE / 'corridor.geojson'}")
