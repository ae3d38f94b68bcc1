"""The garbage collector kept off what a long run builds first and keeps to its end.

What is built at start (the map, the planner, the libraries, the replayed state) lives as long as the process,
yet every full collection walked it again; and the youngest objects were collected every 700 allocations.
Frozen, and collected every 10,000: about a fifth of the CPU of each customs event in ``xborder serve``
(docs/customs-protocol.md §9); in a simulated day of ``target_2030``, 4.9 s of collections became 0.3 s
(docs/simulation.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["settle_heap", "settled_heap"]

YOUNG_EVERY = 10_000  # allocations between two collections of the youngest objects (Python's default: 700)


def settle_heap() -> tuple[int, ...]:
    """Collect, freeze what is left, collect the young less often; the thresholds before, to put back."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_EVERY, *before[1:])
    return before


@contextmanager
def settled_heap() -> Iterator[None]:
    """:func:`settle_heap` for a block, undone after it: what it froze is collected again (a sweep runs many
    simulated days in one process; a frozen day's cycles would never be freed)."""
    before = settle_heap()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
