"""The conflict queue: records changed on both sides, resolved by a person (or by policy).

Resolving writes the chosen values into the MongoDB document as a change of its own
(marked `_sync.resolution`), so they travel to Salesforce through the normal pipeline;
then the changes that waited behind the conflict are sent again, in order.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from connectors.engine.canonical import canonical, to_salesforce_json
from connectors.engine.conversion import ConversionError
from connectors.engine.mapping import MappingSpec, to_document
from connectors.models import Conflict, ObjectMapping
from connectors.mongo import sync_state
from connectors.mongo.changes import id_value
from connectors.mongo.client import shared_client
from connectors.operations import publisher
from connectors.operations.timeline import record_resolution
from connectors.operations.unavailable import translated
from connectors.wiring import mapping_spec

SIDES = ("salesforce", "mongodb")


class ResolutionError(ValueError):
    """The resolution does not settle every field in dispute, names a side or field that is not
    one, or gives a value its field cannot take."""


def open_conflicts(mapping: str | None = None) -> QuerySet[Conflict]:
    conflicts = Conflict.objects.filter(status=Conflict.Status.OPEN).select_related("mapping")
    return conflicts.filter(mapping__name=mapping) if mapping else conflicts


def open_conflict(mapping: ObjectMapping, salesforce_id: str, mongo_id: str, fields: list[str],
                  base_values: dict[str, Any], salesforce_values: dict[str, Any], mongo_values: dict[str, Any],
                  salesforce_changed_at: datetime | None = None,
                  mongo_changed_at: datetime | None = None) -> tuple[Conflict, bool]:
    """The one open conflict of a record (by Salesforce Id or MongoDB `_id`), and whether it is new.

    Every conflict is opened here. A record never has two open conflicts (the database refuses
    a second one too): a later finding for a record that already has one is merged into it —
    its fields added, the newest values of both sides kept, the base of a field already in
    dispute left as it was.
    """
    same_record = Q(salesforce_id=salesforce_id) if salesforce_id else Q()
    if mongo_id:
        same_record |= Q(mongo_id=mongo_id)
    found = Conflict.objects.filter(same_record, mapping=mapping, status=Conflict.Status.OPEN)
    for _ in range(2):  # a second pass only after losing a race with another writer
        with transaction.atomic():
            existing = found.select_for_update().first()
            if existing is None:
                try:
                    with transaction.atomic():
                        return Conflict.objects.create(
                            mapping=mapping, salesforce_id=salesforce_id, mongo_id=mongo_id, fields=list(fields),
                            base_values=base_values, salesforce_values=salesforce_values, mongo_values=mongo_values,
                            salesforce_changed_at=salesforce_changed_at, mongo_changed_at=mongo_changed_at,
                        ), True
                except IntegrityError:
                    continue  # opened meanwhile by another process: merge into that one
            existing.fields = list(dict.fromkeys([*existing.fields, *fields]))
            existing.base_values = {**base_values, **existing.base_values}
            existing.salesforce_values = {**existing.salesforce_values, **salesforce_values}
            existing.mongo_values = {**existing.mongo_values, **mongo_values}
            existing.salesforce_id = existing.salesforce_id or salesforce_id
            existing.mongo_id = existing.mongo_id or mongo_id
            existing.salesforce_changed_at = _later(existing.salesforce_changed_at, salesforce_changed_at)
            existing.mongo_changed_at = _later(existing.mongo_changed_at, mongo_changed_at)
            existing.save()
            return existing, False
    raise AssertionError("unreachable: the conflict that refused the insert is found on the second pass")


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    return max((t for t in (first, second) if t is not None), default=None)


def field_types(spec: MappingSpec) -> dict[str, str]:
    """Each mapped Salesforce field's type, by name."""
    return {f.sf_field: f.sf_type for f in spec.fields}


def resolved_values(conflict: Conflict, types: dict[str, str], take: Mapping[str, str] | None,
                    values: dict[str, Any] | None) -> dict[str, Any]:
    """The canonical value of every disputed field: given outright, or taken from a side."""
    chosen: dict[str, Any] = {}
    for name in conflict.fields:
        if values and name in values:
            chosen[name] = canonical(name, types.get(name, "string"), values[name])
        elif take and name in take:
            side = take[name]
            if side not in SIDES:
                raise ResolutionError(f"{name}: choose 'salesforce' or 'mongodb', not {side!r}")
            chosen[name] = (conflict.salesforce_values if side == "salesforce" else conflict.mongo_values)[name]
        else:
            raise ResolutionError(f"{name} is in dispute: give a value or take a side for it")
    unknown = set(values or {}) - set(conflict.fields)
    if unknown:
        raise ResolutionError(f"not in dispute: {', '.join(sorted(unknown))}")
    return chosen


@translated()
def resolve(conflict: Conflict, take: Mapping[str, str] | None = None, values: dict[str, Any] | None = None,
            by: str = "") -> None:
    """Settle an open conflict and apply the result to both sides. Raises ResolutionError, or
    ServiceUnavailable when MongoDB or Kafka does not answer (the conflict then stays open)."""
    if conflict.status != Conflict.Status.OPEN:
        raise ResolutionError(f"conflict {conflict.pk} is already {conflict.status}")
    mapping = conflict.mapping
    spec = mapping_spec(mapping)
    types = field_types(spec)
    try:
        chosen = resolved_values(conflict, types, take, values)
        document = to_document(spec, {n: to_salesforce_json(n, types.get(n, "string"), v)
                                      for n, v in chosen.items()})
    except ConversionError as exc:
        raise ResolutionError(str(exc)) from exc
    collection = shared_client(mapping.mongo.uri)[mapping.mongo.database][mapping.collection]
    document_id = id_value(conflict.mongo_id) if conflict.mongo_id else conflict.salesforce_id
    # Salesforce's value becomes the last synced one: the normal pipeline then sends the chosen
    # value only where it differs, and the Salesforce change that raised the conflict, when it
    # arrives (or is released) later, is no change any more.
    synced = sync_state.update(base_values={name: conflict.salesforce_values.get(name) for name in conflict.fields},
                               resolution=conflict.pk)
    collection.update_one({"_id": document_id}, {"$set": {**document, **synced}})
    with transaction.atomic():
        conflict.status = Conflict.Status.RESOLVED
        conflict.resolution = chosen
        conflict.resolved_by = by
        conflict.resolved_at = timezone.now()
        conflict.save()
        record_resolution(mapping, conflict.salesforce_id, conflict.mongo_id, chosen, by)
        release_waiting(conflict)


def release_waiting(conflict: Conflict) -> int:
    """Send the changes that waited behind `conflict` back to their topics, in order. Raises
    ServiceUnavailable when Kafka does not take them (they then keep waiting)."""
    waiting = list(conflict.waiting.all())
    if waiting:
        publisher.publish(conflict.mapping.kafka, [(c.topic, c.key, bytes(c.payload)) for c in waiting])
        conflict.waiting.all().delete()
    return len(waiting)


def newest_side(conflict: Conflict, mongo_changed_at: datetime) -> str:
    """For newest_wins: the side whose change is later (Salesforce on a tie)."""
    if conflict.salesforce_changed_at is None or mongo_changed_at > conflict.salesforce_changed_at:
        return "mongodb"
    return "salesforce"


#: The policies a person can settle a batch of conflicts by.
POLICIES = ("salesforce_wins", "mongodb_wins", "newest_wins")


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ResolutionError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")


def policy_side(conflict: Conflict, policy: str) -> str:
    """The side `policy` takes for `conflict`. Raises ResolutionError for an unknown policy, or for
    newest_wins when neither side's change time is known."""
    check_policy(policy)
    if policy != "newest_wins":
        return "salesforce" if policy == "salesforce_wins" else "mongodb"
    if conflict.mongo_changed_at is not None:
        return newest_side(conflict, conflict.mongo_changed_at)
    if conflict.salesforce_changed_at is not None:
        return "salesforce"  # only Salesforce's time is known (a reconcile finding)
    raise ResolutionError(f"conflict {conflict.pk}: neither change time is known; take a side instead")


def resolve_by_policy(conflicts: list[Conflict], policy: str, by: str) -> tuple[int, dict[int, str]]:
    """Resolve each open conflict by `policy` (every disputed field takes the side it names).

    Returns how many were resolved and, by conflict id, why each of the others was not (already
    resolved, no change time known, a value that does not convert). Infrastructure failures
    (MongoDB, Kafka) propagate: the ones resolved before stay resolved.
    """
    check_policy(policy)
    resolved = 0
    skipped: dict[int, str] = {}
    for conflict in conflicts:
        try:
            side = policy_side(conflict, policy)
            resolve(conflict, take={name: side for name in conflict.fields}, by=by)
        except ResolutionError as exc:
            skipped[conflict.pk] = str(exc)
        else:
            resolved += 1
    return resolved, skipped
