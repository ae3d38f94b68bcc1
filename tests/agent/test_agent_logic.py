"""The agent's decision logic against the kinematic base, without ROS: orders, horizon, actions, link loss."""

from __future__ import annotations

import itertools

import pytest
from agv_agent.kinematics import UnicycleBase
from agv_agent.logic import AgentLogic, AgentParams
from agv_agent.protocol import CHARGE_ACTION, ActionType, InstantAction, Order, OrderEdge, OrderNode

DT = 0.05
LINE = [("n0", 0.0, 0.0), ("n1", 40.0, 0.0), ("n2", 80.0, 0.0), ("n3", 120.0, 0.0)]


def order(released: int, update: int = 0, start: int = 0, order_id: str = "o1", actions=None) -> Order:
    """An order along LINE from node ``start``, its first ``released`` nodes (counting from start) released."""
    nodes = tuple(OrderNode(nid, 2 * i, i - start < released, x, y, actions=(actions or {}).get(nid, ()))
                  for i, (nid, x, y) in enumerate(LINE) if i >= start)
    edges = tuple(OrderEdge(f"e{i}", a.sequence_id + 1, b.released, a.node_id, b.node_id, 5.0)
                  for i, (a, b) in enumerate(itertools.pairwise(nodes)))
    return Order(order_id, update, nodes, edges)


class Sim:
    def __init__(self, link_timeout_s: float = 5.0) -> None:
        self.t = 0.0
        self.base = UnicycleBase()
        self.agent = AgentLogic(AgentParams("agv_001", link_timeout_s=link_timeout_s, initial_node_id="n0"), 0.0)

    def run(self, seconds: float, keepalive: bool = True) -> None:
        for _ in range(int(seconds / DT)):
            self.t += DT
            if keepalive and int(self.t / DT) % 20 == 0:
                self.agent.on_instant_actions([InstantAction(f"hb{self.t:.2f}", ActionType.HEARTBEAT)], self.t)
            self.base.step(self.agent.step(self.base.pose, self.t, DT, (self.base.v, self.base.w)), DT)

    @property
    def state(self):
        return self.agent.state(self.t)


def test_stops_at_last_released_node_then_update_completes_it():
    sim = Sim()
    sim.agent.on_order(order(released=2), 0.0)
    sim.run(60)
    assert sim.state.last_node_id == "n1" and not sim.state.driving
    assert 39.5 < sim.base.x <= 40.0, sim.base.x  # stopped at n1 and never past it
    assert [n.node_id for n in sim.state.node_states] == ["n2", "n3"]  # the horizon, unreleased
    sim.agent.on_order(order(released=3, update=1, start=1), sim.t)
    sim.run(80)
    assert sim.state.last_node_id == "n3" and sim.state.node_states == ()
    assert 119.5 < sim.base.x <= 120.0 and sim.state.errors == ()


def test_never_passes_last_released_node_even_at_speed():
    sim = Sim()
    sim.agent.on_order(order(released=3), 0.0)
    max_x = 0.0
    for _ in range(int(60 / DT)):
        sim.run(DT)
        max_x = max(max_x, sim.base.x)
    assert sim.state.last_node_id == "n2" and max_x <= 80.0


@pytest.mark.parametrize(("bad", "reason"), [
    (Order("o1", 0, ()), "no nodes"),
    (Order("o1", 0, order(2).nodes, ()), "need 3 edges"),
    (Order("o1", 0, (OrderNode("n0", 1, True, 0, 0),)), "consecutive even ids"),
    (Order("o1", 0, (OrderNode("n0", 0, True, 0, 0), OrderNode("n1", 2, False, 40, 0),
                     OrderNode("n2", 4, True, 80, 0)),
           (OrderEdge("e0", 1, False, "n0", "n1"), OrderEdge("e1", 3, True, "n1", "n2"))), "before the horizon"),
    (Order("o1", 0, (OrderNode("n0", 0, True, 0, 0), OrderNode("n1", 2, True, 40, 0)),
           (OrderEdge("e0", 1, True, "n0", "nX"),)), "does not join"),
    (Order("o1", 0, (OrderNode("n0", 0, True, 0, 0), OrderNode("n1", 2, True, float("nan"), 0)),
           (OrderEdge("e0", 1, True, "n0", "n1"),)), "finite position"),
    (order(2, start=1), "the vehicle is at n0"),
])
def test_malformed_or_impossible_order_is_refused_without_motion(bad, reason):
    sim = Sim()
    sim.agent.on_order(bad, 0.0)
    sim.run(5)
    assert sim.state.errors and reason in sim.state.errors[0].description
    assert sim.base.x == 0.0 and not sim.state.driving and sim.state.order_id == ""


def test_stale_update_and_update_from_wrong_node_are_refused():
    sim = Sim()
    sim.agent.on_order(order(released=2, update=3), 0.0)
    sim.agent.on_order(order(released=3, update=2, start=1), 0.1)
    assert "stale update 2" in sim.state.errors[0].description
    sim.agent.on_order(order(released=3, update=4, start=2), 0.1)
    assert "must start at the last base node n1/2" in sim.state.errors[0].description
    sim.run(60)
    assert sim.state.last_node_id == "n1"


def test_busy_vehicle_refuses_a_new_order():
    sim = Sim()
    sim.agent.on_order(order(released=4), 0.0)
    sim.run(2)
    sim.agent.on_order(order(released=2, order_id="o2"), sim.t)
    assert sim.state.order_id == "o1" and "busy with order o1" in sim.state.errors[0].description


def test_pause_resume_cancel_and_estop_are_acknowledged_and_idempotent():
    sim = Sim()
    sim.agent.on_order(order(released=4), 0.0)
    sim.run(15)
    sim.agent.on_instant_actions([InstantAction("a1", ActionType.PAUSE)], sim.t)
    sim.run(15)
    x = sim.base.x
    sim.run(5)
    assert sim.base.x == pytest.approx(x, abs=1e-6) and sim.state.paused
    sim.agent.on_instant_actions([InstantAction("a1", ActionType.PAUSE), InstantAction("a2", ActionType.RESUME)],
                                 sim.t)
    sim.run(5)
    assert sim.base.x > x and not sim.state.paused
    sim.agent.on_instant_actions([InstantAction("a3", ActionType.EMERGENCY_STOP)], sim.t)
    sim.run(10)
    x = sim.base.x
    sim.run(5)
    assert sim.base.x == pytest.approx(x, abs=1e-6) and sim.state.e_stop == "REMOTE"
    sim.agent.on_instant_actions([InstantAction("a4", ActionType.CANCEL_ORDER)], sim.t)
    sim.agent.on_instant_actions([InstantAction("a5", ActionType.RELEASE_EMERGENCY_STOP)], sim.t)
    sim.run(10)
    assert sim.base.x == pytest.approx(x, abs=1e-6) and sim.state.node_states == ()
    assert [(a.action_id, a.status) for a in sim.state.action_states] == [
        ("a1", "FINISHED"), ("a2", "FINISHED"), ("a3", "FINISHED"), ("a4", "FINISHED"), ("a5", "FINISHED")]


def test_link_loss_stops_at_next_node_and_resumes():
    sim = Sim(link_timeout_s=3.0)
    sim.agent.on_order(order(released=4), 0.0)
    sim.run(4, keepalive=False)  # link lost after 3 s, a few metres into edge n0->n1
    sim.run(60, keepalive=False)
    assert sim.state.link_lost and sim.state.last_node_id == "n1" and 39.5 < sim.base.x <= 40.0
    sim.agent.on_instant_actions([InstantAction("hb", ActionType.HEARTBEAT)], sim.t)
    sim.run(60)
    assert not sim.state.link_lost and sim.state.last_node_id == "n3"


def test_battery_drains_with_distance_and_charges_at_a_charger():
    sim = Sim()
    sim.agent.on_order(order(released=2, actions={"n1": (CHARGE_ACTION,)}), 0.0)
    while sim.state.last_node_id != "n1" and sim.t < 60:
        sim.run(DT)
    drained = sim.state.battery_charge
    assert drained < 100.0  # 40 m at 2.2 kWh/km of 280 kWh
    assert drained == pytest.approx(100 - 2.2 * 0.04 / 280 * 100, abs=0.01)
    sim.run(60)
    assert sim.state.charging and sim.state.battery_charge > drained


def test_update_while_driving_extends_the_base_without_stopping():
    sim = Sim()
    sim.agent.on_order(order(released=2), 0.0)
    while sim.base.x < 10.0:
        sim.run(DT)
    sim.agent.on_order(order(released=2, update=1, start=1), sim.t)  # releases n2, well before n1
    slowest = float("inf")
    while sim.base.x < 70.0 and sim.t < 60:
        sim.run(DT)
        slowest = min(slowest, sim.base.v)
    assert slowest > 2.0, "the vehicle braked for n1 although the update had released n2"
    sim.run(60)
    assert sim.state.last_node_id == "n2" and 79.5 < sim.base.x <= 80.0
    assert [n.node_id for n in sim.state.node_states] == ["n3"] and sim.state.errors == ()


def test_after_a_cancel_on_an_edge_a_new_order_must_start_where_the_vehicle_stands():
    sim = Sim()
    sim.agent.on_order(order(released=4), 0.0)
    sim.run(8)
    sim.agent.on_instant_actions([InstantAction("c1", ActionType.CANCEL_ORDER)], sim.t)
    sim.run(10)
    x = sim.base.x
    assert 5.0 < x < 35.0 and sim.state.last_node_id == "n0"  # stopped on the edge n0 -> n1
    sim.agent.on_order(order(released=2, order_id="o2"), sim.t)  # starts at n0, metres behind the vehicle
    sim.run(5)
    assert sim.state.order_id == "o1" and "m away" in sim.state.errors[0].description
    assert sim.base.x == pytest.approx(x, abs=1e-6)
    here = OrderNode("here", 0, True, x, 0.0)
    sim.agent.on_order(Order("o3", 0, (here, OrderNode("n1", 2, True, 40.0, 0.0)),
                             (OrderEdge("e", 1, True, "here", "n1"),)), sim.t)
    sim.run(30)
    assert sim.state.order_id == "o3" and sim.state.last_node_id == "n1" and sim.state.errors == ()
