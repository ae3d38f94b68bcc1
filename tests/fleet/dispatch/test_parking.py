"""Where an idle vehicle parks when its side's parking is full.

Found in `target_2030` (200 AGVs, 204 parking spots: 112 VN, 92 CN): a vehicle parks on the side it delivered
to, so as deliveries carry vehicles across, one side's parking fills. A vehicle done at a dock then found
"every goal (cn_parking_1, ...) taken for good", stood on the dock, and the next order for that dock waited
behind it. Here the CN yard is drawn with two parking spots, both taken.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from fleet.maps import load_corridor
from fleet.orders import OrderState
from planner.corridor import Corridor, NodeKind
from tests.fleet.dispatch.conftest import VN_CN, make_fleet

SHIPPED = Path(__file__).resolve().parents[3] / "maps" / "bac_luan_ii"


@pytest.fixture(scope="module")
def small_cn_yard(tmp_path_factory) -> Corridor:
    """Bac Luan II with a CN yard of one row: its 8 chargers and two parking spots."""
    spec = importlib.util.spec_from_file_location("bac_luan_ii_layout", SHIPPED / "layout.py")
    layout = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = layout  # dataclasses look their module up while the class is made
    spec.loader.exec_module(layout)
    folder = tmp_path_factory.mktemp("small_cn_yard")
    shutil.copy(SHIPPED / "corridor.yaml", folder / "corridor.yaml")
    (folder / "corridor.geojson").write_text(layout.render_geojson(cn_changes={"parking_rows": 1,
                                                                               "parking_columns": 10}))
    return load_corridor(folder)


def _spots(corridor: Corridor, side: str) -> list[str]:
    return sorted(n.id for n in corridor.nodes_of(NodeKind.PARKING, jurisdiction=side))


def test_a_vehicle_done_on_a_side_whose_parking_is_full_parks_on_the_other_side(customs, small_cn_yard):
    corridor = small_cn_yard
    cn_spots, vn_spots = _spots(corridor, "CN"), _spots(corridor, "VN")
    assert len(cn_spots) == 2
    cn_dock = sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction="CN"))[0]
    vn_dock = sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction="VN"))[0]
    fleet = make_fleet(customs, corridor, 3, starts=[vn_spots[0], *cn_spots])  # both CN spots taken
    fleet.authorize("agv_001")  # the CN vehicles stay home, parked
    order = fleet.order(["VN-100000000001"], vn_dock, cn_dock)
    fleet.release("VN-100000000001", VN_CN)
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED)
    done = fleet.dispatcher.tracks["agv_001"]
    assert done.state.last_node_id == cn_dock
    # it does not stand on the dock for good: it goes home, empty, across, through both gates' rule
    assert fleet.run(1800, until=lambda: done.state.last_node_id in vn_spots and not done.state.driving), \
        (done.id, done.state.last_node_id, done.job)
    assert [fleet.link.state(v).last_node_id for v in ("agv_002", "agv_003")] == cn_spots
