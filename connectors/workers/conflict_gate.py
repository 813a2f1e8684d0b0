"""Changes to a record with an open conflict wait behind it, in order."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from confluent_kafka import Message
from django.db.models import Q

from connectors.models import Conflict, ObjectMapping, WaitingChange


def open_conflicts(mapping: ObjectMapping, salesforce_ids: set[str], mongo_ids: set[str]) -> dict[str, Conflict]:
    """Open conflicts of these records, by Salesforce Id and by MongoDB id."""
    open_ones = Conflict.objects.filter(mapping=mapping, status=Conflict.Status.OPEN)
    # Most batches meet no open conflict at all: one indexed look first, not a thousand-id IN.
    if not salesforce_ids and not mongo_ids or not open_ones.exists():
        return {}
    found = open_ones.filter(Q(salesforce_id__in=salesforce_ids) | Q(mongo_id__in=mongo_ids))
    by_key: dict[str, Conflict] = {}
    for conflict in found:
        if conflict.salesforce_id:
            by_key[conflict.salesforce_id] = conflict
        if conflict.mongo_id:
            by_key[conflict.mongo_id] = conflict
    return by_key


def hold(conflict: Conflict, message: Message, mongo_changed_at: datetime | None = None,
         fields: Iterable[str] = ()) -> None:
    """Keep `message` until `conflict` is resolved. A MongoDB change (`mongo_changed_at`, when it
    happened) of a disputed field tells the conflict when MongoDB's side changed, if it did not
    know yet: mongo-apply, which raised it, sees only the document, not its change event."""
    WaitingChange.objects.create(
        conflict=conflict, topic=message.topic() or "", key=(message.key() or b"").decode(),
        payload=message.value() or b"",
    )
    if mongo_changed_at is not None and conflict.mongo_changed_at is None and set(fields) & set(conflict.fields):
        Conflict.objects.filter(pk=conflict.pk, mongo_changed_at__isnull=True).update(mongo_changed_at=mongo_changed_at)
        conflict.mongo_changed_at = mongo_changed_at
