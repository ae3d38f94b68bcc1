"""Online assignment on the Bac Luan II map: optimal against brute force, and every hard rule holds."""

from __future__ import annotations

import functools
import itertools
import random
import time

import networkx as nx
import pytest

from planner.assignment import (
    EnergyModel,
    Reason,
    TransportOrder,
    TravelTimes,
    VehicleStatus,
    Weights,
    assign_online,
    chargers_only,
)
from planner.corridor import NodeKind
from planner.exceptions import InvalidRequest, NoRoute
from planner.routing import VehicleProfile, fastest_route
from sim.orders import random_fleet, random_orders

SPOTS = ("vn_dock_1", "vn_dock_4", "vn_parking_3", "vn_parking_40", "vn_charger_2",
         "cn_dock_2", "cn_dock_7", "cn_parking_5", "cn_charger_1")
NOT_AUTHORIZED = VehicleProfile(cross_border=False)


@pytest.fixture(scope="module")
def graph(bac_luan_ii):
    return bac_luan_ii.graph


@pytest.fixture(scope="module")
def chargers(graph):
    return sorted(n for n, k in graph.nodes(data="kind") if k == NodeKind.CHARGER)


# ---- the brute force: its own cost rule, on planner.routing's fastest routes, not the module's code ----

@functools.cache
def _leg(graph_id: int, a: str, b: str, profile: VehicleProfile):
    try:
        route = fastest_route(_GRAPHS[graph_id], a, b, profile)
    except NoRoute:
        return None
    return route.time_s, route.length_m


_GRAPHS: dict[int, object] = {}


def leg(graph, a, b, profile):
    _GRAPHS[id(graph)] = graph
    return (0.0, 0.0) if a == b else _leg(id(graph), a, b, profile)


def nearest_charger_m(graph, node, profile):
    lengths = [leg(graph, node, c, profile) for c, k in graph.nodes(data="kind") if k == NodeKind.CHARGER]
    return min((x[1] for x in lengths if x is not None), default=float("inf"))


def sequence_cost(graph, vehicle, stops, energy, weights, now_s):
    """(cost, driven m) of ``stops`` [(order, is_pickup)], or None if no route or not enough battery."""
    t, node, driven, empty, late = max(now_s, vehicle.free_at_s), vehicle.node, 0.0, None, 0.0
    for order, is_pickup in stops:
        target = order.pickup if is_pickup else order.drop
        step = leg(graph, node, target, vehicle.profile)
        if step is None:
            return None
        empty = step[0] if empty is None else empty
        t, driven, node = t + step[0], driven + step[1], target
        if is_pickup:
            t = max(t, order.ready_s)
        else:
            late += order.priority * max(0.0, t - order.due_s)
    if vehicle.battery - energy.fraction_per_km * (driven + nearest_charger_m(graph, node, vehicle.profile)) / 1000 \
            < energy.reserve:
        return None
    return weights.empty_travel_per_s * empty + weights.lateness_per_s * late


def load_cost(graph, vehicle, load, energy, weights, now_s):
    """Best cost of one vehicle carrying ``load`` (0, 1 or 2 orders) in one trip; None if impossible."""
    if not load:
        return 0.0
    if vehicle.battery < energy.low:
        return None
    if len(load) == 1:
        return sequence_cost(graph, vehicle, [(load[0], True), (load[0], False)], energy, weights, now_s)
    if len(load) > 2 or any(o.teu != 1 for o in load):
        return None
    costs = [sequence_cost(graph, vehicle, [(p1, True), (p2, True), (d1, False), (d2, False)], energy, weights,
                           now_s) for p1, p2 in itertools.permutations(load) for d1, d2 in itertools.permutations(load)]
    costs = [c for c in costs if c is not None]
    return min(costs) if costs else None


def left_cost(weights, order, now_s):
    """Leaving an order: the penalty and the lateness it has already, times its priority."""
    late_s = max(0.0, now_s - order.due_s) if weights.overdue_counts_when_left else 0.0
    return (weights.unassigned_penalty + weights.lateness_per_s * late_s) * order.priority


def brute_force(graph, orders, vehicles, energy, weights, now_s):
    best = float("inf")
    for choice in itertools.product(range(len(vehicles) + 1), repeat=len(orders)):
        total = sum(left_cost(weights, o, now_s) for o, v in zip(orders, choice) if v == len(vehicles))
        for i, vehicle in enumerate(vehicles):
            cost = load_cost(graph, vehicle, [o for o, v in zip(orders, choice) if v == i], energy, weights, now_s)
            if cost is None:
                break
            total += cost
        else:
            best = min(best, total)
    return best


def small_case(graph, seed):
    rng = random.Random(seed)
    orders = []
    for i in range(4):
        pickup, drop = rng.sample(SPOTS, 2)
        ready = rng.uniform(0, 900)
        orders.append(TransportOrder(f"o{i}", pickup, drop, rng.choice((1, 1, 2)), ready,
                                     ready + rng.uniform(0, 2500), priority=rng.choice((1.0, 2.0))))
    vehicles = [VehicleStatus(f"v{i}", rng.choice(SPOTS), rng.uniform(0, 300), rng.uniform(0.25, 1.0),
                              VehicleProfile() if rng.random() < 0.7 else NOT_AUTHORIZED) for i in range(3)]
    weights = Weights(lateness_per_s=1.0, empty_travel_per_s=rng.uniform(0.1, 1.0),
                      unassigned_penalty=rng.uniform(500, 4000))
    return orders, vehicles, weights


ENERGY = EnergyModel(fraction_per_km=0.05, reserve=0.2, low=0.3)  # a crossing round trip is most of a charge


@pytest.mark.parametrize("seed", range(30))
def test_online_is_optimal_against_brute_force(graph, chargers, seed):
    orders, vehicles, weights = small_case(graph, seed)
    result = assign_online(graph, orders, vehicles, chargers, ENERGY, weights, now_s=100.0, time_limit_s=5.0)
    assert result.optimal
    expected = brute_force(graph, orders, vehicles, ENERGY, weights, 100.0)
    assert result.cost == pytest.approx(expected, abs=0.01)
    by_id = {o.id: o for o in orders}
    recomputed = sum(left_cost(weights, by_id[k], 100.0) for k in result.unassigned)
    for trip in result.trips:
        vehicle = next(v for v in vehicles if v.id == trip.vehicle_id)
        stops = [(by_id[s.order_id], s.action == "pickup") for s in trip.stops]
        cost = sequence_cost(graph, vehicle, stops, ENERGY, weights, 100.0)
        assert cost == pytest.approx(trip.cost, abs=1e-6)
        recomputed += cost
    assert recomputed == pytest.approx(result.cost, abs=1e-6)
    assert set(result.unassigned) | {k for t in result.trips for k in t.orders} == set(by_id)


@pytest.fixture(scope="module")
def busy(graph, chargers):
    """40 orders x 30 vehicles, with its timing (one-off travel table build, then a warm call)."""
    rng = random.Random(7)
    orders, fleet = random_orders(graph, 40, rng), random_fleet(graph, 30, rng)
    energy = EnergyModel(fraction_per_km=0.02)
    travel = TravelTimes(graph)
    start = time.perf_counter()
    assign_online(graph, orders, fleet, chargers[::3], energy, travel=travel)  # six chargers, both sides
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = assign_online(graph, orders, fleet, chargers[::3], energy, travel=travel)
    warm_s = time.perf_counter() - start
    print(f"\nonline 40 orders x 30 vehicles: first call {cold_s * 1000:.0f} ms (builds travel times), "
          f"then {warm_s * 1000:.0f} ms; optimal={warm.optimal}, cost {warm.cost:.0f} >= {warm.lower_bound:.0f}")
    return orders, fleet, energy, warm, cold_s, warm_s


def test_capacity_windows_and_precedence_hold(busy):
    orders, _fleet, _energy, result, *_ = busy
    by_id = {o.id: o for o in orders}
    assert result.trips
    for trip in result.trips:
        assert sum(by_id[k].teu for k in trip.orders) <= 2 and len(trip.orders) <= 2
        seen = set()
        for stop in trip.stops:
            order = by_id[stop.order_id]
            if stop.action == "pickup":
                assert stop.node == order.pickup and stop.time_s >= order.ready_s
                seen.add(order.id)
            else:
                assert stop.node == order.drop and order.id in seen
        times = [s.time_s for s in trip.stops]
        assert times == sorted(times)
    assert len({t.vehicle_id for t in result.trips}) == len(result.trips)


def test_low_vehicles_charge_and_no_trip_exceeds_the_battery(graph, busy):
    _orders, fleet, energy, result, *_ = busy
    low = {v.id for v in fleet if v.battery < energy.low}
    assert low and low == set(result.to_charger) - {v.id for v in fleet if v.battery >= energy.low}
    assert len(set(result.to_charger.values())) == len(result.to_charger)
    vehicles = {v.id: v for v in fleet}
    for trip in result.trips:
        vehicle = vehicles[trip.vehicle_id]
        assert vehicle.id not in low
        left = vehicle.battery - energy.used(trip.driven_m + nearest_charger_m(graph, trip.stops[-1].node,
                                                                                 vehicle.profile))
        assert left >= energy.reserve


def test_low_vehicle_goes_to_the_nearest_free_charger(graph):
    vehicle = VehicleStatus("v", "vn_parking_1", 0.0, 0.25)
    result = assign_online(graph, [], [vehicle], ["vn_charger_1", "vn_charger_8", "cn_charger_1"],
                           EnergyModel(fraction_per_km=0.01))
    nearest = min(["vn_charger_1", "vn_charger_8", "cn_charger_1"],
                  key=lambda c: fastest_route(graph, "vn_parking_1", c).time_s)
    assert result.to_charger == {"v": nearest}


def test_unauthorized_vehicles_never_cross(graph, chargers):
    orders = [TransportOrder("cross", "vn_dock_1", "cn_dock_2", 2, 0, 3000),
              TransportOrder("local", "vn_dock_2", "vn_parking_9", 2, 0, 3000)]
    fleet = [VehicleStatus(f"v{i}", f"vn_parking_{i + 1}", 0, 0.9, NOT_AUTHORIZED) for i in range(3)]
    result = assign_online(graph, orders, fleet, chargers, EnergyModel(fraction_per_km=0.01))
    assert [t.orders for t in result.trips] == [("local",)]
    assert result.unassigned == {"cross": Reason.NO_ROUTE}


def test_order_beyond_every_battery_is_reported(graph, chargers):
    orders = [TransportOrder("far", "vn_dock_1", "cn_dock_2", 1, 0, 3000)]
    fleet = [VehicleStatus("v", "cn_parking_1", 0, 0.35)]  # above low, but a double crossing is ~1.3 charges
    result = assign_online(graph, orders, fleet, chargers, EnergyModel(fraction_per_km=0.1))
    assert not result.trips and result.unassigned == {"far": Reason.BATTERY}


def test_more_orders_than_vehicles_leaves_some_not_chosen(graph, chargers):
    orders = [TransportOrder(f"o{i}", "vn_dock_1", f"cn_dock_{i + 1}", 2, 0, 3000) for i in range(3)]
    result = assign_online(graph, orders, [VehicleStatus("v", "vn_parking_1", 0, 0.9)], chargers,
                           EnergyModel(fraction_per_km=0.01))
    assert len(result.trips) == 1 and set(result.unassigned.values()) == {Reason.NOT_CHOSEN}


def test_max_trips_gives_out_the_best_trips_only_and_still_sends_low_vehicles_to_charge(graph, chargers):
    """A relay dispatcher keeps vehicles free to receive what is on its way to the pad (issue #13, finding 10)."""
    orders = [TransportOrder(f"o{i}", "vn_dock_1", f"cn_dock_{i + 1}", 2, 0, 3000, priority=1.0 + i)
              for i in range(3)]
    fleet = [VehicleStatus(f"v{i}", f"vn_parking_{i + 1}", 0, 0.9) for i in range(3)]
    low = VehicleStatus("low", "vn_parking_9", 0, 0.1)
    energy = EnergyModel(fraction_per_km=0.01)
    assert len(assign_online(graph, orders, [*fleet, low], chargers, energy, pairs=False).trips) == 3
    capped = assign_online(graph, orders, [*fleet, low], chargers, energy, pairs=False, max_trips=1)
    assert [t.orders for t in capped.trips] == [("o2",)]  # the one it costs most to leave
    assert set(capped.to_charger) == {"low"}
    none = assign_online(graph, orders, fleet, chargers, energy, pairs=False, max_trips=0)
    assert not none.trips and set(none.unassigned) == {"o0", "o1", "o2"}


def test_an_order_long_overdue_is_still_carried_when_its_lateness_counts_when_left(graph, chargers):
    """Seen in a day of kim_thanh (issue #13, finding 10): an order more than the unassigned penalty's worth
    late (an hour) cost more to carry than to leave, and was never carried: every vehicle free, 90 orders
    waiting. What it has been late already is the same whether it is carried or not."""
    order = TransportOrder("late", "vn_dock_1", "cn_dock_2", 2, 0, 1000)
    for counted, carried in ((False, []), (True, [("late",)])):
        result = assign_online(graph, [order], [VehicleStatus("v", "vn_parking_1", 0, 0.9)], chargers,
                               EnergyModel(fraction_per_km=0.01), Weights(overdue_counts_when_left=counted),
                               now_s=1000 + 3 * 3600)
        assert [t.orders for t in result.trips] == carried


def test_two_twenty_footers_share_a_trip(graph, chargers):
    orders = [TransportOrder(f"o{i}", "vn_dock_1", "cn_dock_2", 1, 0, 3000) for i in range(2)]
    result = assign_online(graph, orders, [VehicleStatus("v", "vn_parking_1", 0, 0.9)], chargers,
                           EnergyModel(fraction_per_km=0.01))
    assert len(result.trips) == 1 and set(result.trips[0].orders) == {"o0", "o1"} and not result.unassigned


@pytest.mark.parametrize(("make", "message"), [
    (lambda: TransportOrder("bad", "vn_dock_1", "cn_dock_1", 3, 0, 10), "order bad: teu"),
    (lambda: TransportOrder("bad", "vn_dock_1", "cn_dock_1", 1, 10, 0), "order bad: due_s"),
    (lambda: VehicleStatus("car", "vn_dock_1", 0, 1.5), "vehicle car: battery"),
    (lambda: EnergyModel(0.01, reserve=0.5, low=0.3), "reserve <= low"),
])
def test_bad_fields_are_named(make, message):
    with pytest.raises(InvalidRequest, match=message):
        make()


def test_bad_requests_are_named(graph, chargers):
    energy = EnergyModel(fraction_per_km=0.01)
    ok = TransportOrder("o", "vn_dock_1", "cn_dock_1", 1, 0, 10)
    vehicle = VehicleStatus("v", "vn_parking_1", 0, 0.9)
    with pytest.raises(InvalidRequest, match="order x: drop 'nowhere'"):
        assign_online(graph, [TransportOrder("x", "vn_dock_1", "nowhere", 1, 0, 10)], [vehicle], chargers, energy)
    with pytest.raises(InvalidRequest, match="vehicle w: node 'moon'"):
        assign_online(graph, [ok], [VehicleStatus("w", "moon", 0, 0.9)], chargers, energy)
    with pytest.raises(InvalidRequest, match="order id 'o' appears more than once"):
        assign_online(graph, [ok, ok], [vehicle], chargers, energy)
    with pytest.raises(InvalidRequest, match="charger 'vn_dock_2'"):
        assign_online(graph, [ok], [vehicle], ["vn_dock_2"], energy)


def test_the_time_to_the_nearest_pickup_is_one_search_back_from_all_of_them(bac_luan_ii):
    """``TravelTimes.to_nearest`` (ranking free vehicles by their nearness to the waiting orders' pickups) from
    each target's own table: the same nodes and the same floats as one search backwards from all targets; asked
    again, kept or (beyond the sets it keeps) worked out again, the same."""
    graph = bac_luan_ii.graph
    travel = TravelTimes(graph, nearest_kept=8)
    docks = sorted(n.id for n in bac_luan_ii.nodes_of(NodeKind.DOCK))
    rng = random.Random(5)
    asked = [docks, docks[:1], *(rng.sample(docks, rng.randint(1, len(docks))) for _ in range(20)),
             rng.sample(sorted(graph), 50)]
    for targets in asked + asked[::-1]:
        expected = nx.multi_source_dijkstra_path_length(graph.reverse(copy=False), set(targets), weight="travel_time")
        assert travel.to_nearest(targets) == expected


def test_with_no_trip_to_give_out_only_the_low_vehicles_go_to_chargers_as_the_assignment_sends_them(graph, chargers):
    """``chargers_only`` is what ``assign_online(..., max_trips=0)`` decides (its ``to_charger``), without scoring
    the trips none of which it gives out: most assignment rounds of a busy day, their gate lanes full."""
    rng = random.Random(11)
    energy = EnergyModel(fraction_per_km=0.02)
    for _ in range(5):
        orders, fleet = random_orders(graph, 12, rng), random_fleet(graph, 15, rng)
        assert chargers_only(graph, orders, fleet, chargers[::2], energy) == \
            assign_online(graph, orders, fleet, chargers[::2], energy, pairs=False, max_trips=0).to_charger
    vehicle = VehicleStatus("v", "vn_parking_1", 0, 0.9)
    with pytest.raises(InvalidRequest, match="order x: drop 'nowhere'"):
        chargers_only(graph, [TransportOrder("x", "vn_dock_1", "nowhere", 1, 0, 10)], [vehicle], chargers, energy)


def test_a_work_limit_gives_the_same_answer_however_late_the_solver_starts(graph, chargers, busy):
    """The fast mode's assignment stops after a deterministic amount of work: a wall-clock budget spent before
    CP-SAT starts (a loaded machine) changes nothing, where it would cut the search short."""
    orders, fleet, energy, *_ = busy
    travel = TravelTimes(graph)
    unhurried = assign_online(graph, orders, fleet, chargers[::3], energy, time_limit_s=10.0, travel=travel)
    late = assign_online(graph, orders, fleet, chargers[::3], energy, time_limit_s=1e-9, travel=travel,
                         work_limit=5.0)
    assert late.optimal and unhurried.optimal
    assert late.trips == unhurried.trips and late.cost == pytest.approx(unhurried.cost)
