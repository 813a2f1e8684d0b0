"""Changes to a record with an open conflict wait behind it, in order."""
from __future__ import annotations

from confluent_kafka import Message
from django.db.models import Q

from connectors.models import Conflict, ObjectMapping, WaitingChange


def open_conflicts(mapping: ObjectMapping, salesforce_ids: set[str], mongo_ids: set[str]) -> dict[str, Conflict]:
    """Open conflicts of these records, by Salesforce Id and by MongoDB id."""
    if not salesforce_ids and not mongo_ids:
        return {}
    found = Conflict.objects.filter(mapping=mapping, status=Conflict.Status.OPEN).filter(
        Q(salesforce_id__in=salesforce_ids) | Q(mongo_id__in=mongo_ids)
    )
    by_key: dict[str, Conflict] = {}
    for conflict in found:
        if conflict.salesforce_id:
            by_key[conflict.salesforce_id] = conflict
        if conflict.mongo_id:
            by_key[conflict.mongo_id] = conflict
    return by_key


def hold(conflict: Conflict, message: Message) -> None:
    WaitingChange.objects.create(
        conflict=conflict, topic=message.topic() or "", key=(message.key() or b"").decode(), payload=message.value() or b""
    )
