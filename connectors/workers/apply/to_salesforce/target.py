"""What sf-apply's steps share: a mapping as it writes it, one document's pending write, and
the facts about a document or change the steps ask about."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Message

from connectors import events
from connectors.engine.mapping import MappingSpec
from connectors.mappings.schema_drift import without_removed_fields
from connectors.models import ObjectMapping
from connectors.operations.timeline import TimelineBatch
from connectors.salesforce.writer import SalesforceWriter
from connectors.wiring import mapping_spec


class Target:
    def __init__(self, mapping: ObjectMapping, writer: SalesforceWriter, collection: Any) -> None:
        self.row = mapping
        # Fields removed in Salesforce (open schema drift) are not written until the drift is accepted.
        self.spec: MappingSpec = without_removed_fields(mapping_spec(mapping), mapping)
        self.writer = writer
        self.collection = collection


@dataclass
class Pending:
    """One document's write, waiting for Salesforce's answer."""

    message: Message
    envelope: events.ChangeEnvelope
    document: dict[str, Any]
    sent: dict[str, Any]  # canonical values of the fields sent
    record: dict[str, Any]  # the Salesforce payload
    changed_at: datetime  # when the MongoDB change happened


@dataclass
class Books:
    """Where every step records what it did with a change: timeline lines and counters."""

    timeline: TimelineBatch
    counters: Counter[str]


def born_in_mongodb(spec: MappingSpec, document: dict[str, Any]) -> bool:
    """A document born in Salesforce has its Salesforce Id as `_id`; any other was born in MongoDB."""
    key = document.get(spec.key_field)
    return not key or str(document["_id"]) != str(key)


def cluster_datetime(envelope: events.ChangeEnvelope) -> datetime:
    """When a MongoDB change happened: capture stamps it from the change event's wall time."""
    return datetime.fromisoformat(envelope.captured_at.replace("Z", "+00:00"))
