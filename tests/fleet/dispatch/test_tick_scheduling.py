"""How a tick schedules its work: a clearance first, optional work within the loop thread's budget, the VDA
order ids written behind the loop."""

from __future__ import annotations

import time

from fleet.dispatch import loop
from fleet.dispatch.vda_writer import VdaOrderWriter
from fleet.orders import OrderState
from fleet.vehicles.registry import SentOrder
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def waiting_at_its_gate(customs, corridor, vehicles: int):
    """A fleet of ``vehicles``, all authorized, one of them loaded at its gate with CN's release, waiting for
    VN's (``fleet.release("VN-100000000001", VN_CN, customs.vn)``); the fleet and that vehicle's track."""
    fleet = make_fleet(customs, corridor, vehicles)
    fleet.authorize(*fleet.dispatcher.tracks)
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN, customs.cn)
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.AWAITING_CLEARANCE)
    fleet.run(2)  # waiting at its gate, nothing else to do
    return fleet, fleet.dispatcher.tracks[fleet.orders.get(order).vehicle_id]


def test_a_clearance_reaches_the_waiting_vehicle_before_the_tick_reads_any_state(customs, corridor):
    """The update past the gate goes out at the start of the tick that follows the clearance, before the
    tick reads the vehicles' states, assigns or replans anything (each may wait for the store or the CPU)."""
    fleet, waiting = waiting_at_its_gate(customs, corridor, 2)
    dispatcher, vehicle = fleet.dispatcher, waiting.id
    steps: list[str] = []
    send_order, observe = dispatcher.link.send_order, dispatcher._observe
    dispatcher.link.send_order = lambda vid, o: (steps.append(f"order to {vid}"), send_order(vid, o))[1]
    dispatcher._observe = lambda track, seen, t: (steps.append("observe"), observe(track, seen, t))[1]
    fleet.release("VN-100000000001", VN_CN, customs.vn)
    dispatcher.tick()
    assert steps[0] == f"order to {vehicle}", steps[:3]
    assert waiting.job is not None and waiting.job.cleared


def test_past_its_budget_a_tick_on_the_loop_thread_replans_one_vehicle_and_assigns_nothing(customs, corridor):
    fleet = make_fleet(customs, corridor, 6)
    fleet.authorize(*fleet.dispatcher.tracks)
    fleet.run(2)
    dispatcher = fleet.dispatcher
    for track in dispatcher.tracks.values():
        track.needs_plan = True
    fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    replanned = []
    replan = dispatcher._replan
    dispatcher._replan = lambda track, t: (replanned.append(track.id), replan(track, t))[1]
    dispatcher._deadline = time.perf_counter() - 1  # what the loop's thread sets: the budget is spent
    dispatcher._last_assign = dispatcher.now()
    dispatcher.tick()
    assert len(replanned) == 1  # the longest waiting: none starves
    assert not any(tr.job for tr in dispatcher.tracks.values())  # the assignment round waits for the next tick
    dispatcher._last_assign = dispatcher.now() - loop.ASSIGN_DEFER_MAX_S  # ... but not for long
    dispatcher.tick()
    assert any(tr.job and tr.job.order for tr in dispatcher.tracks.values())
    dispatcher._deadline = None  # driven from outside (the simulator, tests): every due replan, as before
    replanned.clear()
    for track in dispatcher.tracks.values():
        track.needs_plan, track.retry_at = True, -loop.INF
    dispatcher.tick()
    assert len(replanned) == len(dispatcher.tracks)


def test_vda_order_ids_written_behind_the_loop_keep_the_latest_per_vehicle(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    registry = fleet.dispatcher.registry
    writer = VdaOrderWriter(registry)  # not started: what it holds is written when it stops
    writer.put([SentOrder("agv_001", "agv_001-aaaa", 0, None, ("vn_parking_1",)),
                SentOrder("agv_002", "agv_002-bbbb", 3, None, ("cn_parking_1", "cn_app_in_0"))])
    writer.put([SentOrder("agv_001", "agv_001-aaaa", 1, None, ("vn_parking_1", "vn_app_out_0"))])
    assert {r.id: r.vda_update_id for r in registry.all()} == {"agv_001": 0, "agv_002": 0}
    writer.start()
    writer.stop()
    assert {r.id: (r.vda_order_id, r.vda_update_id, r.released_way) for r in registry.all()} == {
        "agv_001": ("agv_001-aaaa", 1, ["vn_parking_1", "vn_app_out_0"]),
        "agv_002": ("agv_002-bbbb", 3, ["cn_parking_1", "cn_app_in_0"])}


def test_a_ticks_order_transitions_are_written_together_and_a_crossing_at_once(customs, corridor):
    """Each transition waited for the store's writer lock and an fsync of its own, behind every other writer
    (bench_fleet: up to a second of a tick); now one transaction at the tick's end. A crossing is written at
    once, beside the custody record the gate has just made."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    orders = [fleet.order([f"VN-10000000000{i}"], docks(corridor, "VN")[i], docks(corridor, "CN")[i])
              for i in (1, 2)]
    assert fleet.run(600, until=lambda: all(fleet.state_of(o) == OrderState.TO_PICKUP for o in orders))
    dispatcher = fleet.dispatcher
    first, second = (dispatcher.tracks[fleet.orders.get(o).vehicle_id] for o in orders)
    writes = []
    transaction = fleet.store.transaction
    fleet.store.transaction = lambda *a, **k: (writes.append(1), transaction(*a, **k))[1]
    dispatcher._advance(first, OrderState.LOADED, "test")
    dispatcher._advance(second, OrderState.LOADED, "test")
    assert [fleet.state_of(o) for o in orders] == [OrderState.TO_PICKUP] * 2 and not writes
    assert first.job.order.state == second.job.order.state == OrderState.LOADED  # the loop goes on from them
    dispatcher._write_moves()
    assert [fleet.state_of(o) for o in orders] == [OrderState.LOADED] * 2 and len(writes) == 1
    dispatcher._advance(first, OrderState.CROSSING, "test")
    assert fleet.state_of(orders[0]) == OrderState.CROSSING


def test_a_clearance_during_a_full_plan_on_the_loop_thread_is_released_without_waiting_for_it(customs, corridor):
    """A full plan of the fleet (up to a second for 200 vehicles) gives way to customs news that lets a vehicle
    waiting at its gate go: it is given up, the vehicle released in the same tick, and the plan made by the next.
    News that lets nobody go does not stop it; nor does anything once it gave way FULL_PLAN_YIELDS_MAX times
    in a row, nor in a tick driven from outside (the simulator's fast mode, deterministic)."""
    fleet, waiting = waiting_at_its_gate(customs, corridor, 6)
    dispatcher = fleet.dispatcher
    stalled = next(tr for tr in dispatcher.tracks.values() if tr is not waiting)
    stalled.stalled_since, stalled.stalled_because = dispatcher.now() - loop.FULL_REPLAN_AFTER_S - 1, "test"
    steps: list[str] = []
    news = {1: lambda: fleet.release("VN-100000000002", VN_CN, customs.cn),  # lets nobody go
            3: lambda: fleet.release("VN-100000000001", VN_CN, customs.vn)}  # lets the waiting vehicle go
    plan_all, search, send_order = dispatcher.planner.plan_all, dispatcher.planner.search, dispatcher.link.send_order

    def full_plan(*args, **kwargs):
        steps.append("full plan")
        return plan_all(*args, **kwargs)

    def searched(*args, **kwargs):
        if "full plan" in steps:
            steps.append("search")
            news.pop(steps.count("search"), lambda: None)()
        return search(*args, **kwargs)

    dispatcher.planner.plan_all, dispatcher.planner.search = full_plan, searched
    dispatcher.link.send_order = lambda vid, o: (steps.append(f"order to {vid}"), send_order(vid, o))[1]
    dispatcher._deadline = time.perf_counter() + 3600  # on the loop's thread, within its budget
    dispatcher.tick()
    released = steps.index(f"order to {waiting.id}")
    assert steps[:released].count("search") == 4 and steps.count("full plan") == 1  # given up after 3, nothing
    assert stalled.stalled_since is not None and dispatcher._full_plan_yields == 1  # adopted; then its replan
    assert waiting.job.cleared and waiting.plan.steps[waiting.released].node != waiting.plan.steps[0].node
    steps.clear()
    dispatcher.tick()
    assert steps.count("search") >= len(dispatcher.tracks) and stalled.stalled_since is None  # planned next tick
    assert dispatcher._full_plan_yields == 0 and dispatcher._last_full_replan == dispatcher.now()
    dispatcher._full_plan_yields = loop.FULL_PLAN_YIELDS_MAX
    assert dispatcher._clearance_stops_the_plan() is None  # runs to its end
    dispatcher._full_plan_yields, dispatcher._deadline = 0, None
    assert dispatcher._clearance_stops_the_plan() is None


def test_customs_news_during_a_tick_is_released_in_that_tick(customs, corridor):
    """News that comes while a tick assigns or replans (each can take tens of ms with 200 vehicles) is looked at
    between those phases: the update past the gate goes out in that tick, not after the rest of it and the
    start of the next (bench_fleet: the clearance's tail). Replans still due wait for the next tick."""
    fleet, waiting = waiting_at_its_gate(customs, corridor, 3)
    dispatcher = fleet.dispatcher
    others = [tr for tr in dispatcher.tracks.values() if tr is not waiting]
    for track in others:
        track.needs_plan, track.retry_at = True, -loop.INF
    replanned: list[str] = []
    replan = dispatcher._replan

    def replanning(track, t):
        replanned.append(track.id)
        if len(replanned) == 1:  # the clearance comes during the first of the due replans
            fleet.release("VN-100000000001", VN_CN, customs.vn)
        return replan(track, t)

    dispatcher._replan = replanning
    dispatcher._deadline = time.perf_counter() + 3600  # on the loop's thread, within its budget
    dispatcher.tick()
    assert waiting.job.cleared and waiting.released > 0  # released past its gate in this tick
    assert replanned[:2] == [others[0].id, waiting.id]  # before the other replan due
    assert others[1].needs_plan  # which waits for the next tick


def test_the_time_from_customs_news_to_the_release_past_the_gate_is_reported(customs, corridor):
    """Once per clearance, when the update past the gate goes out (xborder_clearance_release_seconds): the
    service's share of a cleared vehicle's wait, which an operator otherwise sees only from outside."""
    fleet, waiting = waiting_at_its_gate(customs, corridor, 2)
    dispatcher = fleet.dispatcher
    waited: list[float] = []
    dispatcher.clearance_listeners.append(waited.append)
    before = time.perf_counter()
    fleet.release("VN-100000000001", VN_CN, customs.vn)
    dispatcher.tick()
    assert waiting.released > 0 and len(waited) == 1 and 0 < waited[0] < time.perf_counter() - before
    fleet.run(5)
    assert len(waited) == 1  # the releases after it are not the clearance's
