"""What a Salesforce change does to its MongoDB document, given the sync state. Pure; no I/O.

The record's sync state holds the last synced values (`base`). The change
is merged three ways against them and the document's current values: an echo of the
sync's own write is dropped, disjoint edits merge, and the same field changed on both
sides follows the mapping's conflict policy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from connectors.engine.canonical import canonical, values_hash
from connectors.engine.conversion import ConversionError, parse_sf_datetime
from connectors.engine.mapping import MappingSpec, to_document
from connectors.engine.merge import MergeDecision, merge
from connectors.engine.merge import changed_fields as changed_fields_of
from connectors.engine.sync_state import Push, SyncState


@dataclass
class ConflictDraft:
    fields: list[str]
    base: dict[str, Any]
    salesforce: dict[str, Any]
    mongodb: dict[str, Any]
    salesforce_changed_at: datetime | None
    mongodb_changed_at: datetime | None


class PlanOutcome(StrEnum):
    WRITE = "write"
    #: The sync's own write came back (it may still carry server-set fields, see DocumentPlan).
    ECHO = "echo"
    #: The document holds a newer Salesforce version already.
    STALE = "stale"
    #: Nothing to write: only the other side's value stands (there may be a conflict).
    NOTHING = "nothing"


@dataclass
class DocumentPlan:
    """What to do with one Salesforce change. An echo may still carry `set_fields` and `base`:
    the read-only fields Salesforce set with the sync's own write, to be written without counting
    as a change."""

    outcome: PlanOutcome
    set_fields: dict[str, Any] = field(default_factory=dict)  # MongoDB names, BSON values
    base: dict[str, Any] = field(default_factory=dict)
    base_hash: str = ""
    conflict: ConflictDraft | None = None
    #: The write settles a conflict the sync's own Salesforce write raced with: send it on.
    republish: bool = False


#: Salesforce's Date header has whole seconds: a change stamped up to this long after it
#: may still predate the write it reports on.
PUSH_CLOCK_SLACK = timedelta(seconds=1)


def _aware(moment: datetime, zone: tzinfo | None) -> datetime:
    """A stored time (MongoDB gives them back naive) in the zone of the change it is compared with."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _is_stale(state: SyncState, modstamp: datetime) -> bool:
    """The document holds a newer Salesforce version than this change's."""
    return state.sf_modstamp is not None and _aware(state.sf_modstamp, modstamp.tzinfo) > modstamp


@dataclass
class _Races:
    """The sync's own Salesforce writes this change may have been made concurrently with."""

    #: The fields the sync wrote at about or after the change's stamp, whose value Salesforce changed
    #: again (one showing our value is the echo of the write).
    pushes: dict[str, Push]
    #: The base to merge against: for those fields the value before our write, since Salesforce
    #: changed them only if they differ from that.
    merge_base: dict[str, Any]
    #: When the newest MongoDB change behind those writes was made.
    changed_at: datetime | None

    @classmethod
    def of(cls, state: SyncState, incoming: dict[str, Any], modstamp: datetime) -> _Races:
        pushes = {name: push for name, push in state.pushed.items()
                  if push.at is not None and modstamp < _aware(push.at, modstamp.tzinfo) + PUSH_CLOCK_SLACK
                  and incoming.get(name, push.sent) != push.sent}
        changed_at = max((p.change_at for p in pushes.values() if p.change_at), default=None)
        return cls(pushes, {**state.base, **{name: push.before for name, push in pushes.items()}},
                   None if changed_at is None else _aware(changed_at, modstamp.tzinfo))

    def raced(self, decision: MergeDecision, other: dict[str, Any] | None) -> set[str]:
        """The raced fields changed on both sides, so the merge settled them one way."""
        settled = {n for n in self.pushes if n in decision.write or n in decision.send_back}
        return settled & set(changed_fields_of(other or {}, self.merge_base))


def mongo_values(spec: MappingSpec, document: dict[str, Any], writable_only: bool = True) -> dict[str, Any]:
    """A document's mapped values in canonical form by Salesforce field name.

    A value of the wrong shape is kept as a marker that equals nothing else, so it
    counts as "changed" without stopping the merge (writing it back is what fails).
    """
    values = {}
    for spec_field in spec.fields:
        if writable_only and not spec_field.sf_writable:
            continue
        raw = document.get(spec_field.mongo_field)
        try:
            values[spec_field.sf_field] = canonical(spec_field.sf_field, spec_field.sf_type, raw)
        except ConversionError:
            values[spec_field.sf_field] = f"<invalid {raw!r}>"
    return values


def never_synced_nor_set(spec: MappingSpec, document: dict[str, Any], base: dict[str, Any]) -> set[str]:
    """The mapped fields (Salesforce names) a synced document neither holds nor has a base for:
    the sync never wrote them and nobody set them, so they are no change on MongoDB's side. Only
    a document made from part of a record has such fields; counting them as changed raised a
    conflict on each when the whole record came, and sent them as nulls with the next edit."""
    if not base:
        return set()
    return {f.sf_field for f in spec.fields if f.sf_field not in base and f.mongo_field not in document}


def salesforce_values(spec: MappingSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Salesforce JSON values in canonical form. Raises ConversionError."""
    return {f.sf_field: canonical(f.sf_field, f.sf_type, values[f.sf_field])
            for f in spec.fields if f.sf_field in values}


def plan_salesforce_upsert(spec: MappingSpec, values: dict[str, Any], modstamp: datetime,
                           document: dict[str, Any] | None, state: SyncState) -> DocumentPlan:
    """Plan one Salesforce upsert against the current document (None if there is none) and its
    sync state."""
    if _is_stale(state, modstamp):
        return DocumentPlan(PlanOutcome.STALE)
    incoming = salesforce_values(spec, values)
    base = state.base
    # A document never synced has no base: nothing on its side can be told apart as a change.
    other = None
    if document is not None and base:
        absent = never_synced_nor_set(spec, document, base)
        other = {name: value for name, value in mongo_values(spec, document).items() if name not in absent}
    races = _Races.of(state, incoming, modstamp)
    decision = merge(races.merge_base, incoming, other, "salesforce", spec.conflict_policy, modstamp, races.changed_at)
    if spec.two_way and document is not None and base and _only_server_fields_moved(spec, decision):
        # The echo of our own write: what the server set with it is still written to the document.
        return _server_set_refresh(spec, values, incoming, base, decision.write, document)
    if decision.is_echo:
        return DocumentPlan(PlanOutcome.ECHO)
    raced = races.raced(decision, other)
    conflict = _conflict_draft(decision, base, modstamp, races.changed_at)
    if not decision.write and not raced:
        return DocumentPlan(PlanOutcome.NOTHING, conflict=conflict)
    new_base = _new_base(base, decision, raced, races.pushes, incoming)
    converted = to_document(spec, {name: values[name] for name in decision.write})
    return DocumentPlan(PlanOutcome.WRITE, set_fields=converted, base=new_base, base_hash=values_hash(new_base),
                        conflict=conflict, republish=bool(raced))


def _only_server_fields_moved(spec: MappingSpec, decision: MergeDecision) -> bool:
    """Only Salesforce-owned fields (audit stamps, formulas) changed, with nothing in dispute."""
    writable = {f.sf_field for f in spec.fields if f.sf_writable}
    return not (set(decision.write) & writable) and not decision.disputed and not decision.send_back


def _new_base(base: dict[str, Any], decision: MergeDecision, raced: set[str], pushes: dict[str, Push],
              incoming: dict[str, Any]) -> dict[str, Any]:
    new_base = {**base, **decision.settled}
    for name in raced:
        # Salesforce may hold either value now; keep the loser as the base so the winner
        # is written to Salesforce again by the normal MongoDB -> Salesforce path.
        new_base[name] = pushes[name].sent if name in decision.write else incoming[name]
    return new_base


def _conflict_draft(decision: MergeDecision, base: dict[str, Any], modstamp: datetime,
                    changed_at: datetime | None) -> ConflictDraft | None:
    if not decision.disputed:
        return None
    names = sorted(decision.disputed)
    return ConflictDraft(
        fields=names,
        base={n: base.get(n) for n in names},
        salesforce={n: decision.disputed[n][0] for n in names},
        mongodb={n: decision.disputed[n][1] for n in names},
        salesforce_changed_at=modstamp,
        mongodb_changed_at=changed_at,
    )


def _server_set_refresh(spec: MappingSpec, values: dict[str, Any], incoming: dict[str, Any], base: dict[str, Any],
                        moved: dict[str, Any], document: dict[str, Any]) -> DocumentPlan:
    """An echo, carrying the read-only fields (set by Salesforce, never sent by the sync) that
    the document does not hold yet; the sync's own values are not written again."""
    held = mongo_values(spec, document, writable_only=False)
    fresh = {name for name in moved if held.get(name) != incoming[name]}
    new_base = {**base, **moved}
    if not fresh and new_base == base:
        return DocumentPlan(PlanOutcome.ECHO)
    return DocumentPlan(PlanOutcome.ECHO, set_fields=to_document(spec, {name: values[name] for name in fresh}),
                        base=new_base, base_hash=values_hash(new_base))


def modstamp_of(source_version: dict[str, str]) -> datetime:
    return parse_sf_datetime(source_version["system_modstamp"])
