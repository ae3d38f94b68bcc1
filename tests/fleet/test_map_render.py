"""The corridor picture takes its titles and labels from the map, and draws Vietnamese and Chinese names."""

from __future__ import annotations

import json

import pytest
import yaml

from fleet.maps.fonts import CJK_FAMILIES, use_map_fonts
from fleet.maps.render import _border_box, _side_prefixes, _title
from planner.corridor import corridor_from_geojson


def test_titles_come_from_the_map_not_from_bac_luan_ii(kim_thanh_dir):
    """Issue 11: the border close-up was always titled '... on the bridge'."""
    collection = json.loads((kim_thanh_dir / "corridor.geojson").read_text(encoding="utf-8"))
    config = yaml.safe_load((kim_thanh_dir / "corridor.yaml").read_text(encoding="utf-8"))
    for feature in collection["features"]:
        if feature["properties"].get("kind") == "bridge":
            feature["properties"]["kind"] = "ferry_ramp"
    corridor = corridor_from_geojson(collection, config)
    title = _title(corridor, _border_box(corridor), None)
    assert "ferry ramp" in title and "bridge" not in title and "handoff pad" in title


def test_labels_leave_out_the_prefix_the_map_uses(bac_luan_ii, kim_thanh):
    assert _side_prefixes(bac_luan_ii) == {"VN": "vn_", "CN": "cn_"}
    assert _side_prefixes(kim_thanh) == {"VN": "vn_", "CN": "cn_"}


def test_a_cjk_font_is_used_when_installed():
    families = use_map_fonts()
    assert families[0] == "DejaVu Sans"  # Latin and every Vietnamese diacritic
    if len(families) == 1:
        pytest.skip("no CJK font installed (make setup installs fonts-noto-cjk)")
    assert families[1] in CJK_FAMILIES
