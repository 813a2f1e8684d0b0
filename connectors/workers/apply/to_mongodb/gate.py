"""Step 1: a change of a record with an open conflict waits behind it, in order."""
from __future__ import annotations

from collections import Counter

from connectors.operations.timeline import Outcome, TimelineBatch
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_mongodb.target import Target
from connectors.workers.conflict_gate import hold, open_conflicts


def hold_behind_conflicts(target: Target, items: Batch, timeline: TimelineBatch, counters: Counter[str]) -> Batch:
    """The changes of `items` that go on; the others wait behind their record's open conflict."""
    waiting = open_conflicts(target.row, set(items), set())
    passing: Batch = {}
    for key, (envelope, message) in items.items():
        if key not in waiting:
            passing[key] = (envelope, message)
            continue
        hold(waiting[key], message)
        timeline.add(target.row, envelope, message, Outcome.HELD, detail=f"behind conflict #{waiting[key].pk}")
        counters["held_behind_conflict"] += 1
    return passing
