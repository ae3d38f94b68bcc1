"""The places a stalled vehicle may not wait at, because another vehicle speaks for them (``FleetPlanner.
_reserve_fallback``), counted as requests come and go (``Requests``), are those found by going through every
other request, whatever the order of the changes."""

from __future__ import annotations

import random

from planner.schedule.fleet import Requests
from planner.schedule.plans import PlanRequest

PLACES = [f"p{i}" for i in range(12)]


def _spoken_for_directly(requests: dict[str, PlanRequest], vehicle: str, start: str) -> set[str]:
    """As the fallback gathered them before: every other request's start and goals (several goals: but for
    where this vehicle stands)."""
    spoken = set()
    for other in requests.values():
        if other.vehicle_id != vehicle:
            spoken.add(other.start)
            spoken.update(other.goals if len(other.goals) == 1 else set(other.goals) - {start})
    return spoken


def _request(rng: random.Random, vehicle: str) -> PlanRequest:
    goals = tuple(rng.sample(PLACES, rng.choice([0, 1, 1, 2, 5])))
    return PlanRequest(vehicle, rng.choice(PLACES), goals)


def test_the_places_free_of_others_are_those_no_other_request_speaks_for():
    rng = random.Random(13)
    for _ in range(200):
        counted, plain = Requests(), {}
        for _ in range(rng.randint(1, 30)):
            vehicle = f"v{rng.randint(0, 8)}"
            if rng.random() < 0.2:
                counted.pop(vehicle, None)
                plain.pop(vehicle, None)
            else:
                counted[vehicle] = plain[vehicle] = _request(rng, vehicle)
        for vehicle in (*plain, "new"):
            start = rng.choice(PLACES)
            spoken = _spoken_for_directly(plain, vehicle, start)
            assert counted.free_of_others(vehicle, start, PLACES) == [p for p in PLACES if p not in spoken]


def test_requests_built_at_once_count_as_those_added_one_by_one():
    rng = random.Random(7)
    requests = [_request(rng, f"v{i}") for i in range(10)]
    at_once, one_by_one = Requests(requests), Requests()
    for request in requests:
        one_by_one[request.vehicle_id] = request
    for request in requests:
        assert at_once.free_of_others(request.vehicle_id, request.start, PLACES) == \
            one_by_one.free_of_others(request.vehicle_id, request.start, PLACES)


def test_a_copy_counts_as_the_original():
    """copy, deepcopy and pickle rebuild a dict subclass item by item after restoring its attributes: without
    ``Requests.__reduce__`` each place would be counted twice in the copy."""
    import copy
    import pickle

    rng = random.Random(3)
    original = Requests(_request(rng, f"v{i}") for i in range(10))
    for made in (copy.copy(original), copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
        assert made == original
        for vehicle in (*original, "new"):
            assert made.free_of_others(vehicle, "p0", PLACES) == original.free_of_others(vehicle, "p0", PLACES)
