"""The day planner on the Bac Luan II corridor: a shift of dispatch orders over a mixed fleet (authorized or
not to cross, batteries part charged), each vehicle back at its nearest charger; every hard rule checked
here from the map and the orders, not from the planner's figures. And the capacity study's question."""

from __future__ import annotations

import random

import pytest

from planner.assignment import EnergyModel
from planner.corridor import NodeKind
from planner.dayplan import Costs, plan_day
from planner.dayplan.corridor import corridor_problem, fleet_needed, nearest_homes, shipment_of
from planner.exceptions import InvalidRequest, NoRoute
from planner.routing import VehicleProfile, fastest_route
from sim.orders import random_fleet, random_orders


def _route(graph, source, target, profile):
    try:
        return fastest_route(graph, source, target, profile)
    except NoRoute:
        return None


def test_a_shift_of_orders_keeps_every_hard_rule_and_reports_lateness_truthfully(bac_luan_ii):
    graph = bac_luan_ii.graph
    rng = random.Random(0)
    orders = random_orders(graph, 60, rng, spread_s=4 * 3600)
    fleet = random_fleet(graph, 12, rng, battery=(0.5, 1.0))
    energy = EnergyModel(fraction_per_km=0.005)
    homes = nearest_homes(graph, fleet)
    problem = corridor_problem(graph, [shipment_of(o) for o in orders], fleet, homes, energy,
                               Costs(per_vehicle=1000, per_metre=0.01, late_per_s=1.0))
    plan = plan_day(problem, time_limit_s=3.0)
    assert plan.feasible, plan.breaks
    assert {v.shipment_id for r in plan.routes for v in r.visits} | set(plan.unserved) == {o.id for o in orders}
    by_id, vehicles = {o.id: o for o in orders}, {v.id: v for v in fleet}
    for route in plan.routes:
        vehicle = vehicles[route.vehicle_id]
        here, t, load, metres = vehicle.node, vehicle.free_at_s, 0, 0.0
        for visit in route.visits:
            order = by_id[visit.shipment_id]
            leg = _route(graph, here, visit.location, vehicle.profile) if here != visit.location else None
            assert here == visit.location or leg is not None, f"{vehicle.id} may not drive {here}->{visit.location}"
            arrive = t + (leg.time_s if leg else 0.0)
            metres += leg.length_m if leg else 0.0
            assert visit.arrive_s == pytest.approx(arrive, abs=1e-6)
            if visit.action == "pickup":
                assert visit.start_s >= order.ready_s - 1e-6
                load += order.teu
            else:
                load -= order.teu
                assert visit.late_s == pytest.approx(max(0.0, visit.start_s - order.due_s), abs=1e-6)
            assert 0 <= load <= 2
            here, t = visit.location, visit.depart_s
        home = _route(graph, here, homes[vehicle.id], vehicle.profile)
        assert home is not None and route.return_s == pytest.approx(t + home.time_s, abs=1e-6)
        assert graph.nodes[homes[vehicle.id]]["kind"] == NodeKind.CHARGER
        assert vehicle.battery - energy.used(metres + home.length_m) >= energy.reserve - 1e-9
    assert plan.late_s == pytest.approx(sum(v.late_s for r in plan.routes for v in r.visits))


def test_how_many_agvs_a_day_needs(bac_luan_ii):
    graph = bac_luan_ii.graph
    rng = random.Random(3)
    orders = random_orders(graph, 16, rng, spread_s=2 * 3600)
    depot = next(n for n, k in graph.nodes(data="kind") if k == NodeKind.CHARGER)
    sizing = fleet_needed(graph, [shipment_of(o, latest_late_s=3600) for o in orders], depot, 8,
                          EnergyModel(fraction_per_km=0.002), VehicleProfile(cross_border=True), time_limit_s=2.0)
    assert sizing.plan.feasible and sizing.needed == sizing.plan.vehicles_used
    assert 1 <= sizing.needed < sizing.offered
    with pytest.raises(InvalidRequest, match="offered"):
        fleet_needed(graph, [], depot, 0, EnergyModel(fraction_per_km=0.002))


def test_a_day_cannot_end_on_the_border_line_nor_before_it_starts(bac_luan_ii):
    """Found: ``fleet_needed`` took a border node as the depot (vehicles parked for the night on the bridge,
    plan "feasible"), and an end before the start was silently moved to the start, the plan's breaks then
    naming a deadline nobody gave."""
    from planner.dayplan import Shipment

    graph, energy = bac_luan_ii.graph, EnergyModel(fraction_per_km=0.01)
    trip = [Shipment("s", "vn_dock_1", "cn_dock_5")]
    with pytest.raises(InvalidRequest, match=r"border_northbound .* where a vehicle may not wait"):
        fleet_needed(graph, trip, "border_northbound", 2, energy, time_limit_s=0.5)
    with pytest.raises(InvalidRequest, match=r"end_s 50\.0 is before start_s 100\.0"):
        fleet_needed(graph, trip, "vn_parking_17", 2, energy, start_s=100.0, end_s=50.0, time_limit_s=0.5)
