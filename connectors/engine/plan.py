"""What a Salesforce change does to its MongoDB document, given the sync state. Pure; no I/O.

The document's `_sync` sub-document holds the last synced values (`base`). The change
is merged three ways against them and the document's current values: an echo of the
sync's own write is dropped, disjoint edits merge, and the same field changed on both
sides follows the mapping's conflict policy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.engine.canonical import canonical, values_hash
from connectors.engine.conversion import ConversionError, parse_sf_datetime
from connectors.engine.mapping import MappingSpec, to_document
from connectors.engine.merge import changed_fields as changed_fields_of
from connectors.engine.merge import merge


@dataclass
class ConflictDraft:
    fields: list[str]
    base: dict[str, Any]
    salesforce: dict[str, Any]
    mongodb: dict[str, Any]
    salesforce_changed_at: datetime | None
    mongodb_changed_at: datetime | None


@dataclass
class DocumentPlan:
    """`outcome` is one of: write, echo, stale, nothing (only the other side's value stands)."""

    outcome: str
    set_fields: dict[str, Any] = field(default_factory=dict)  # MongoDB names, BSON values
    base: dict[str, Any] = field(default_factory=dict)
    base_hash: str = ""
    conflict: ConflictDraft | None = None
    #: The write settles a conflict the sync's own Salesforce write raced with: send it on.
    republish: bool = False


#: Salesforce's Date header has whole seconds: a change stamped up to this long after it
#: may still predate the write it reports on.
PUSH_CLOCK_SLACK = timedelta(seconds=1)


def _concurrent_pushes(state: dict[str, Any], modstamp: datetime) -> dict[str, dict[str, Any]]:
    """The fields the sync wrote to Salesforce at about or after this change's stamp."""
    pushes = {}
    for name, push in (state.get("pushed") or {}).items():
        at = push.get("at")
        if at is None:
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=modstamp.tzinfo)
        if modstamp < at + PUSH_CLOCK_SLACK:
            pushes[name] = push
    return pushes


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


def salesforce_values(spec: MappingSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Salesforce JSON values in canonical form. Raises ConversionError."""
    return {f.sf_field: canonical(f.sf_field, f.sf_type, values[f.sf_field]) for f in spec.fields if f.sf_field in values}


def plan_salesforce_upsert(
    spec: MappingSpec, values: dict[str, Any], modstamp: datetime, document: dict[str, Any] | None
) -> DocumentPlan:
    """Plan one Salesforce upsert against the current document (None if there is none)."""
    state = (document or {}).get("_sync") or {}
    applied = state.get("sf_modstamp")
    if applied is not None and applied.tzinfo is None:
        applied = applied.replace(tzinfo=modstamp.tzinfo)
    if applied is not None and applied > modstamp:
        return DocumentPlan("stale")
    incoming = salesforce_values(spec, values)
    base: dict[str, Any] = state.get("base") or {}
    # A document never synced has no base: nothing on its side can be told apart as a change.
    other = mongo_values(spec, document) if document is not None and base else None
    # For a field the sync wrote to Salesforce after this change was made, compare with the
    # value before that write: Salesforce changed it only if it differs from that.
    pushes = {name: push for name, push in _concurrent_pushes(state, modstamp).items()
              if incoming.get(name, push.get("sent")) != push.get("sent")}  # showing our value: the echo
    merge_base = {**base, **{name: push.get("before") for name, push in pushes.items()}}
    changed_at = max((p["change_at"] for p in pushes.values() if p.get("change_at")), default=None)
    if changed_at is not None and changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=modstamp.tzinfo)
    decision = merge(merge_base, incoming, other, "salesforce", spec.conflict_policy, modstamp, changed_at)
    raced = {n for n in pushes if n in decision.write or n in decision.send_back} & set(
        changed_fields_of(other or {}, merge_base))

    writable = {f.sf_field for f in spec.fields if f.sf_writable}
    if spec.two_way and document is not None and base and not (set(decision.write) & writable) \
            and not decision.disputed and not decision.send_back:
        # Only Salesforce-owned fields (audit stamps, formulas) moved: the echo of our own write.
        return DocumentPlan("echo")
    if decision.is_echo:
        return DocumentPlan("echo")

    new_base = {**base, **decision.settled}
    for name in raced:
        # Salesforce may hold either value now; keep the loser as the base so the winner
        # is written to Salesforce again by the normal MongoDB -> Salesforce path.
        new_base[name] = pushes[name].get("sent") if name in decision.write else incoming[name]
    conflict = None
    if decision.disputed:
        names = sorted(decision.disputed)
        conflict = ConflictDraft(
            fields=names,
            base={n: base.get(n) for n in names},
            salesforce={n: decision.disputed[n][0] for n in names},
            mongodb={n: decision.disputed[n][1] for n in names},
            salesforce_changed_at=modstamp,
            mongodb_changed_at=changed_at,
        )
    if not decision.write and not raced:
        return DocumentPlan("nothing", conflict=conflict)
    converted = to_document(spec, {name: values[name] for name in decision.write})
    return DocumentPlan("write", set_fields=converted, base=new_base, base_hash=values_hash(new_base),
                        conflict=conflict, republish=bool(raced))


def modstamp_of(source_version: dict[str, str]) -> datetime:
    return parse_sf_datetime(source_version["system_modstamp"])
