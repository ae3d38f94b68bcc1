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
