"""``Progress`` answers "has this event happened?" from each vehicle's reached step alone, without listing events."""

from hypothesis import given
from hypothesis import strategies as st

from planner.schedule.precedence import ARRIVE, LEAVE
from planner.schedule.release import Progress


@given(reached=st.integers(-1, 12), left=st.booleans(), k=st.integers(0, 14), kind=st.sampled_from([ARRIVE, LEAVE]))
def test_an_event_has_happened_exactly_when_the_vehicle_got_that_far(reached, left, k, kind):
    progress = Progress()
    progress.set("a", reached, left)
    arrived = k <= reached  # it reached step k (steps are reached in order)
    gone = k < reached or (k == reached and reached >= 0 and left)  # and drove off it
    assert ((("a", k, kind)) in progress) == (arrived if kind == ARRIVE else gone)
    assert ("b", k, kind) not in progress  # a vehicle it knows nothing of has done nothing


def test_the_release_stops_at_the_vehicle_it_waits_on_and_progress_is_read_once_per_vehicle():
    """The dispatcher skips asking again for a vehicle waiting on another until that one moves: ``release_limit``
    names whom it waits on; ``Progress`` reads a vehicle's progress only when asked, once."""
    import networkx as nx

    from planner.schedule import Step, TimedPlan
    from planner.schedule.release import release_limit

    plan = TimedPlan("a", tuple(Step(f"n{k}", 10.0 * k, 10.0 * k + 1) for k in range(4)))
    dependencies = nx.DiGraph([(("b", 1, LEAVE), ("a", 2, ARRIVE))])
    asked: list[str] = []
    where = {"b": (1, False)}

    def source(vehicle):
        asked.append(vehicle)
        return where.get(vehicle)

    assert release_limit(dependencies, plan, 0, Progress(source)) == (1, "b")
    assert release_limit(dependencies, plan, 0, Progress(source), ready=lambda step: step < 1) == (0, None)
    where["b"] = (1, True)  # b has left step 1: a may go on to the end
    done = Progress(source)
    assert release_limit(dependencies, plan, 0, done) == (3, None)
    assert ("b", 1, LEAVE) in done and ("b", 1, LEAVE) in done
    assert asked == ["b", "b"]  # once per Progress (the one with ready stopping first never asked)
