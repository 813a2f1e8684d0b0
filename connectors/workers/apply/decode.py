"""The first step of the chain: a batch of Kafka messages -> envelopes by mapping, compacted to
the last change per record. What cannot be decoded, or no mapping of this worker takes, goes to
the dead-letter topic."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Protocol

from confluent_kafka import Message

from connectors import events
from connectors.models import ObjectMapping
from connectors.operations.timeline import Outcome, TimelineBatch
from connectors.workers.apply.dead_letters import DeadLetters

#: The changes of one mapping in a batch, by record key: the newest change of each record.
Batch = dict[str, tuple[events.ChangeEnvelope, Message]]


class MappingTarget(Protocol):
    row: ObjectMapping


class Decode:
    """`record_key` names the record a change is about (changes to one record are compacted to
    the last); None if this worker does not take such changes."""

    def __init__(self, record_key: Callable[[events.ChangeEnvelope], str | None], timeline: TimelineBatch,
                 dead_letters: DeadLetters, source_label: str) -> None:
        self._record_key = record_key
        self._timeline = timeline
        self._dead_letters = dead_letters
        self._source_label = source_label

    def __call__(self, messages: list[Message], targets: Mapping[str, MappingTarget]) -> dict[str, Batch]:
        """Envelopes by mapping name, compacted: a batch keeps Kafka's per-record order, so the
        last one is the newest."""
        batches: dict[str, Batch] = {}
        for message in messages:
            keyed = self._keyed_envelope(message, targets)
            if keyed is None:
                continue
            envelope, key = keyed
            batch = batches.setdefault(envelope.mapping, {})
            if key in batch:
                self._supersede(targets[envelope.mapping], batch[key], envelope)
            batch[key] = (envelope, message)
        return batches

    def _keyed_envelope(self, message: Message,
                        targets: Mapping[str, MappingTarget]) -> tuple[events.ChangeEnvelope, str] | None:
        """The message's envelope and record key if a mapping of this worker takes it; else None, parked."""
        try:
            envelope = events.decode(message.value())
        except events.EnvelopeError as exc:
            self._dead_letters.park(message, "INVALID_ENVELOPE", str(exc))
            return None
        key = self._record_key(envelope) if envelope.mapping in targets else None
        if key is None:
            self._dead_letters.park(message, "UNKNOWN_MAPPING",
                                    f"no enabled mapping named {envelope.mapping!r} on this Kafka cluster takes "
                                    f"{self._source_label} changes", record_key=envelope.key)
            return None
        return envelope, key

    def _supersede(self, target: MappingTarget, older_item: tuple[events.ChangeEnvelope, Message],
                   envelope: events.ChangeEnvelope) -> None:
        older, older_message = older_item
        self._timeline.add(target.row, older, older_message, Outcome.SUPERSEDED)
        if envelope.op != "delete" and older.op != "delete":
            # A partial change (a CDC update) carries only what it changed: keep what the older one set.
            envelope.fields = {**older.fields, **envelope.fields}
            envelope.changed_fields = list(dict.fromkeys([*older.changed_fields, *envelope.changed_fields]))
