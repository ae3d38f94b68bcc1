"""Batch assignment: a shift of orders over a fleet, within its time limit, every hard rule held."""

from __future__ import annotations

import random
import time

from planner.assignment import EnergyModel, assign_batch
from planner.corridor import NodeKind
from planner.exceptions import NoRoute
from planner.routing import fastest_route
from sim.orders import random_fleet, random_orders


def _metres(graph, source, target, profile) -> float:
    try:
        return fastest_route(graph, source, target, profile).length_m
    except NoRoute:
        return float("inf")


def test_batch_150_orders_15_vehicles(bac_luan_ii):
    graph = bac_luan_ii.graph
    chargers = sorted(n for n, k in graph.nodes(data="kind") if k == NodeKind.CHARGER)
    rng = random.Random(0)
    orders = random_orders(graph, 150, rng, spread_s=8 * 3600)
    fleet = random_fleet(graph, 15, rng, battery=(0.5, 1.0))
    energy = EnergyModel(fraction_per_km=0.005)
    start = time.perf_counter()
    result = assign_batch(graph, orders, fleet, chargers, energy, time_limit_s=4.0)
    elapsed = time.perf_counter() - start
    served = {k for t in result.trips for k in t.orders}
    print(f"\nbatch 150 x 15: {elapsed:.1f} s, {len(served)} served in {len(result.trips)} trips, "
          f"lateness {sum(t.lateness_s for t in result.trips):.0f} s, cost {result.cost:.0f}")
    assert elapsed < 4.0 + 3.0  # the solver's limit plus building the model
    assert served == {o.id for o in orders} and not result.unassigned
    by_id, vehicles = {o.id: o for o in orders}, {v.id: v for v in fleet}
    for vehicle in fleet:
        trips = result.trips_of(vehicle.id)
        times = [s.time_s for t in trips for s in t.stops]
        assert times == sorted(times) and (not times or times[0] >= vehicle.free_at_s)
        if trips:
            last = trips[-1].stops[-1].node
            home = min(_metres(graph, last, c, vehicle.profile) for c in chargers)
            assert vehicle.battery - energy.used(sum(t.driven_m for t in trips) + home) >= energy.reserve - 1e-9
    for trip in result.trips:
        load = 0
        for stop in trip.stops:
            order = by_id[stop.order_id]
            load += order.teu if stop.action == "pickup" else -order.teu
            assert 0 <= load <= 2
            if stop.action == "pickup":
                assert stop.time_s >= order.ready_s
        assert load == 0
        for k in trip.orders:
            actions = [s.action for s in trip.stops if s.order_id == k]
            assert actions == ["pickup", "drop"]
        assert vehicles[trip.vehicle_id].profile.cross_border or all(
            graph.nodes[by_id[k].pickup]["jurisdiction"] == graph.nodes[by_id[k].drop]["jurisdiction"]
            for k in trip.orders)
