"""The collector settled for a long run (fleet/heap.py), and put back as it was after a block of it."""

from __future__ import annotations

import gc

import pytest

from fleet.heap import YOUNG_EVERY, settled_heap


def test_a_settled_block_freezes_what_was_built_and_puts_the_collector_back_after() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    with settled_heap():
        assert gc.get_threshold() == (YOUNG_EVERY, *threshold[1:])
        assert gc.get_freeze_count() > frozen  # (what the block's caller built first is left alone by collections)
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0  # unfrozen: the next run's collections free this one's cycles


def test_the_collector_is_put_back_when_the_block_fails() -> None:
    threshold = gc.get_threshold()
    with pytest.raises(RuntimeError), settled_heap():
        raise RuntimeError("a run that fails")
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0
