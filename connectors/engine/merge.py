"""Three-way merge of a change against the last synced values. Pure; no I/O.

`base` is what both sides held after the last sync; `incoming` is the side whose
change is being applied; `other` is what the other side holds now. Fields only the
incoming side changed flow across; fields only the other side changed stay (they
flow the other way on their own); a field both changed to different values is a
conflict, settled by the mapping's policy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SALESFORCE_WINS = "salesforce_wins"
MONGODB_WINS = "mongodb_wins"
NEWEST_WINS = "newest_wins"
MANUAL = "manual"
POLICIES = (SALESFORCE_WINS, MONGODB_WINS, NEWEST_WINS, MANUAL)


@dataclass
class MergeDecision:
    #: Field values to write to the target side.
    write: dict[str, Any] = field(default_factory=dict)
    #: The new last-synced values for the fields that are now equal on both sides.
    settled: dict[str, Any] = field(default_factory=dict)
    #: Fields in dispute left for a person (manual policy), with both values.
    disputed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: Conflicting fields the incoming side lost: the other side's value must be sent back.
    send_back: dict[str, Any] = field(default_factory=dict)

    @property
    def is_echo(self) -> bool:
        return not (self.write or self.disputed or self.send_back)


def changed_fields(values: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The fields of `values` that differ from `base` (a field missing from base counts as changed)."""
    return {name: value for name, value in values.items() if name not in base or base[name] != value}


def merge(
    base: dict[str, Any],
    incoming: dict[str, Any],
    other: dict[str, Any] | None,
    incoming_side: str,
    policy: str,
    incoming_time: datetime | None = None,
    other_time: datetime | None = None,
) -> MergeDecision:
    """Decide what a change from `incoming_side` ("salesforce" or "mongodb") does.

    `other` is None when the other side has no record yet (nothing to conflict with).
    """
    decision = MergeDecision()
    incoming_changes = changed_fields(incoming, base)
    other_changes = changed_fields(other, base) if other is not None else {}
    for name, value in incoming_changes.items():
        if name not in other_changes or other_changes[name] == value:
            decision.write[name] = value
            decision.settled[name] = value
            continue
        theirs = other_changes[name]
        winner = _winner(policy, incoming_side, incoming_time, other_time)
        if winner == "incoming":
            decision.write[name] = value
            decision.settled[name] = value
        elif winner == "other":
            # Not settled: the other side's change is still on its way across, and
            # comparing it with the unchanged base is what sends it.
            decision.send_back[name] = theirs
        else:
            decision.disputed[name] = (value, theirs)
    return decision


def _winner(policy: str, incoming_side: str, incoming_time: datetime | None, other_time: datetime | None) -> str:
    if policy == MANUAL:
        return "manual"
    if policy == NEWEST_WINS:
        if incoming_time is None or other_time is None:
            # The other side's change time is not known yet: park it; it is settled by
            # time as soon as that change arrives (see conflict_queue.newest_side).
            return "manual"
        return "incoming" if incoming_time >= other_time else "other"
    favoured = "salesforce" if policy == SALESFORCE_WINS else "mongodb"
    return "incoming" if incoming_side == favoured else "other"
