"""A vendor's vehicle that lies, or whose firmware is buggy, on a real mosquitto, with the fleet's real dispatch
loop, store and customs gate judging it (the fixture of ``test_border_watch_mqtt``): a base it was never released,
a base that keeps the node it stands at, a factsheet the fleet cannot plan with. The fleet must not fail its tick
(for the whole fleet) nor take the vehicle's word for a release across the border."""

from __future__ import annotations

import json
import time

from agv_agent import vda_json
from agv_agent.protocol import Header, OrderNode, Pose, VehicleState

from fleet.alarms import AlarmKind
from fleet.dispatch import Dispatcher
from fleet.orders import OrderCreate
from planner.corridor import NodeKind
from tests.fleet.conftest import customs, key_dir  # noqa: F401 (fixtures)
from tests.mqtt.test_border_watch_mqtt import (  # noqa: F401 (fixture)
    MAKER,
    ForgedVehicle,
    a_factsheet,
    alarm_kinds,
    fleet_and_vehicle,
    stopped,
    tick,
    wait,
)


def report_base(dispatcher: Dispatcher, customs, vehicle: ForgedVehicle, at: str, last_node: str,  # noqa: F811
                base: list[str], order_id: str = "its-own-order") -> None:
    """The vehicle reports itself at node ``at`` (driving), ``last_node`` reached, ``base`` released to it (as it
    says); ticks until the fleet has read it."""
    nodes = dispatcher.corridor.nodes
    vehicle.header_id += 1
    node_states = tuple(OrderNode(n, 2 * k, True, nodes[n].x, nodes[n].y, map_id="corridor")
                        for k, n in enumerate(base))
    state = VehicleState(vehicle.serial, order_id, 0, last_node, 0, node_states, (),
                         Pose(nodes[at].x, nodes[at].y, 0.0), (0.0, 0.0), True, False, False, 90.0, False,
                         stamp=time.time(), map_id="corridor", position_initialized=True,
                         header=Header(manufacturer=MAKER, serial_number=vehicle.serial))
    vehicle.client.publish(vehicle.topic("state"), json.dumps(vda_json.state_json(state, vehicle.header_id)),
                           qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        tick(dispatcher, customs)
        seen = dispatcher.tracks[vehicle.serial].state
        if seen is not None and seen.header.header_id == vehicle.header_id:
            return
        time.sleep(0.05)
    raise AssertionError(f"the fleet never read the report at {at}")


def test_a_base_across_the_fleet_never_released_does_not_let_the_vehicle_cross_unseen(customs,  # noqa: F811
                                                                                      fleet_and_vehicle):  # noqa: F811
    """Found by trying it: a vehicle that reported an order of its own, released over the bridge, and drove over it
    was never flagged (the border watch took the base it reported for a release), and its crossing was recorded
    for neither customs. The fleet released it nothing: it is caught on the line, stopped, out of service."""
    dispatcher, vehicle = fleet_and_vehicle
    way = ["vn_deck_out_1", "border_northbound", "cn_deck_in_1"]
    report_base(dispatcher, customs, vehicle, "vn_deck_out_0", "vn_deck_out_0", way)
    report_base(dispatcher, customs, vehicle, "border_northbound", "vn_deck_out_1", way[1:])
    assert AlarmKind.UNRELEASED_CROSSING in alarm_kinds(dispatcher)
    assert stopped(vehicle)
    assert not dispatcher.tracks["rogue"].record.in_service


def test_a_base_that_keeps_the_node_the_vehicle_stands_at_does_not_fail_the_fleets_tick(customs,  # noqa: F811
                                                                                       fleet_and_vehicle):  # noqa: F811
    """Found by trying it: a vehicle at the last node before the crossing whose state still lists that node among
    those to drive (a vendor's reading of ``nodeStates``) made every dispatch tick fail, for the whole fleet (KeyError:
    no lane from a node to itself), a traceback each tick. The nodes after it are its base."""
    dispatcher, vehicle = fleet_and_vehicle
    report_base(dispatcher, customs, vehicle, "vn_deck_out_1", "vn_deck_out_1", ["vn_deck_out_1"])
    for _ in range(5):
        tick(dispatcher, customs)
    report_base(dispatcher, customs, vehicle, "vn_deck_out_1", "vn_deck_out_1",
                ["vn_deck_out_1", "border_northbound", "cn_deck_in_1"])
    # (a base over the bridge it holds no clearance for, from the last node before it: taken back)
    assert wait(lambda: any(a["actionType"] == "cancelOrder" for a in vehicle.actions))
    assert AlarmKind.CROSSING_FLAGGED in alarm_kinds(dispatcher)


def test_a_factsheet_with_no_top_speed_is_not_planned_with_and_does_not_fail_the_fleets_tick(customs,  # noqa: F811
                                                                                            fleet_and_vehicle):  # noqa: F811
    """Found by trying it: a factsheet saying ``speedMax`` 0 (or less) made every dispatch tick fail at the
    assignment round, for the whole fleet ("max_speed must be positive"). The vehicle takes no order, and an
    alarm names the factsheet's value."""
    dispatcher, vehicle = fleet_and_vehicle
    for signer in (customs.vn, customs.cn):
        assert dispatcher.gate.ingest(signer.event("vehicle.authorized", vehicle_id="rogue"), "test").acknowledged
    vn, cn = (sorted(n.id for n in dispatcher.corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))
              for side in ("VN", "CN"))
    order, _ = dispatcher.orders.create(OrderCreate(consignments=["VN-100000000941"], pickup=vn[0], drop=cn[0]),
                                        "test")
    for speed in (0.0, -6.94):
        sheet = a_factsheet("rogue")
        sheet["physicalParameters"]["speedMax"] = speed
        vehicle.client.publish(vehicle.topic("factsheet"), json.dumps(sheet), qos=1).wait_for_publish(5)
        # (the fixture's first factsheet may not have arrived yet either: None until one has)
        assert wait(lambda: getattr(dispatcher.link.factsheet("rogue"), "speed_max", None) == speed)  # noqa: B023
        for _ in range(5):
            tick(dispatcher, customs)
        assert dispatcher.orders.get(order.id).vehicle_id is None
        faults = [a.message for a in dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.VEHICLE_FAULT]
        assert any("speedMax 0.0 m/s" in m for m in faults), faults  # (the alarm stands while the cause lasts)
