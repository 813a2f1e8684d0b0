"""Change Data Capture events: header, bitmap fields and a normalized record change. Pure.

Over the Pub/Sub API, `changedFields`, `nulledFields` and `diffFields` arrive as
bitmaps over the event schema's field positions: `0x...` for top-level fields
(bit i = field i, least significant bit first) and `N-0x...` for the fields of
the compound (record-typed) field at top-level position N. An UPDATE carries
values only for the fields it changed; everything else is null in the payload
and must be left alone, which is why a change lists its values explicitly and
leaves untouched fields out. Compound fields (a person's `Name`, addresses,
geolocations) arrive as nested records: a full image gives both their components
under their REST names (`BillingCity`, `FirstName`) and the whole value as REST
gives it (`Name` as the full name, `BillingAddress` as an object); an update gives
only the components it changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from connectors.engine.conversion import format_sf_datetime
from connectors.salesforce.pubsub.avro import EventSchema, SchemaError

HEADER = "ChangeEventHeader"
CREATE, UPDATE, DELETE, UNDELETE = "CREATE", "UPDATE", "DELETE", "UNDELETE"
GAP_OVERFLOW = "GAP_OVERFLOW"
#: Events that carry the whole record (every field; null means "no value").
FULL_IMAGE_TYPES = frozenset({CREATE, UNDELETE})
_EPOCH = date(1970, 1, 1)


def _bit_positions(hex_bitmap: str) -> list[int]:
    try:
        value = int(hex_bitmap[2:], 16) if hex_bitmap[:2].lower() == "0x" else int(hex_bitmap, 16)
    except ValueError:
        raise SchemaError(f"cdc: bitmap {hex_bitmap!r} is not hexadecimal") from None
    return [i for i in range(value.bit_length()) if value >> i & 1]


def expand_bitmap_fields(schema: EventSchema, entries: Iterable[str]) -> list[str]:
    """Field names for a bitmap field list: `Name` for a top-level field, `Parent.Child` for a
    field of a compound. Entries that are already names (the Streaming API's form) pass
    through. Raises SchemaError for a bit or position the schema does not have."""
    names: list[str] = []
    for entry in entries:
        parent, dash, bitmap = entry.partition("-")
        if entry.lower().startswith("0x"):
            names += [_field_at(schema.field_names, i, schema.schema_id) for i in _bit_positions(entry)]
        elif dash and parent.isdigit() and bitmap.lower().startswith("0x"):
            position = int(parent)
            children = schema.nested_fields.get(position)
            if children is None:
                raise SchemaError(f"cdc: {entry!r} points at field {position}, which is not a compound field "
                                  f"in schema {schema.schema_id}")
            parent_name = schema.field_names[position]
            names += [f"{parent_name}.{_field_at(children, i, schema.schema_id)}" for i in _bit_positions(bitmap)]
        else:
            names.append(entry)
    return list(dict.fromkeys(names))


def _field_at(fields: list[str], position: int, schema_id: str) -> str:
    if position >= len(fields):
        raise SchemaError(f"cdc: bitmap bit {position} is past the {len(fields)} fields of schema {schema_id}")
    return fields[position]


def flat_field_name(parent: str, child: str) -> str:
    """The REST API name of a compound field's component: BillingAddress.City -> BillingCity,
    Name.FirstName -> FirstName, Home__c.Street -> Home__Street__s (custom address)."""
    if parent.endswith("Address"):
        return parent[: -len("Address")] + child
    if parent.endswith("__c"):
        return f"{parent[:-3]}__{child}__s"
    return child


@dataclass(frozen=True)
class ChangeEventHeader:
    entity_name: str
    record_ids: tuple[str, ...]
    change_type: str
    change_origin: str
    transaction_key: str
    sequence_number: int
    commit_timestamp: datetime
    commit_number: int
    commit_user: str
    changed_fields: tuple[str, ...]
    nulled_fields: tuple[str, ...]
    diff_fields: tuple[str, ...]


def decode_header(schema: EventSchema, raw: dict[str, Any]) -> ChangeEventHeader:
    """The header of a decoded change event, bitmaps turned into field names."""
    try:
        return ChangeEventHeader(
            entity_name=raw["entityName"],
            record_ids=tuple(raw.get("recordIds") or ()),
            change_type=raw["changeType"],
            change_origin=raw.get("changeOrigin") or "",
            transaction_key=raw.get("transactionKey") or "",
            sequence_number=int(raw.get("sequenceNumber") or 0),
            commit_timestamp=datetime.fromtimestamp(int(raw["commitTimestamp"]) / 1000, tz=timezone.utc),
            commit_number=int(raw.get("commitNumber") or 0),
            commit_user=raw.get("commitUser") or "",
            changed_fields=tuple(expand_bitmap_fields(schema, raw.get("changedFields") or ())),
            nulled_fields=tuple(expand_bitmap_fields(schema, raw.get("nulledFields") or ())),
            diff_fields=tuple(expand_bitmap_fields(schema, raw.get("diffFields") or ())),
        )
    except KeyError as exc:
        raise SchemaError(f"cdc: change event header lacks {exc.args[0]!r}") from None


@dataclass(frozen=True)
class RecordChange:
    """One change event, normalized. `values` holds Salesforce field names (compound fields
    flattened): for CREATE/UNDELETE every field, for UPDATE only the changed ones plus the
    nulled ones as None; a field absent from it was not touched."""

    header: ChangeEventHeader
    values: dict[str, Any]
    replay_id: str  # hex
    #: Compound fields (a person's Name, an address) an UPDATE changed: it carries only the
    #: changed components, so the compound's whole value is not known from the event.
    partial_compounds: frozenset[str] = frozenset()

    @property
    def change_type(self) -> str:
        return self.header.change_type

    @property
    def is_gap(self) -> bool:
        """Salesforce could not build the full event: only the ids are known, re-read them."""
        return self.change_type.startswith("GAP_")

    @property
    def is_overflow(self) -> bool:
        """Too many changes in one transaction: not even the ids are known."""
        return self.change_type == GAP_OVERFLOW

    @property
    def is_full_image(self) -> bool:
        return self.change_type in FULL_IMAGE_TYPES

    @property
    def client(self) -> str | None:
        return client_of(self.header.change_origin)


def client_of(change_origin: str) -> str | None:
    """`com/salesforce/api/rest/62.0;client=NAME` -> NAME (None when no client was named)."""
    for part in change_origin.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip() == "client" and value.strip():
            return value.strip()
    return None


#: A person's name compound (Contact, Lead): the full `Name` REST gives, in this order.
PERSON_NAME = "Name"
_FULL_NAME_PARTS = ("FirstName", "MiddleName", "LastName", "Suffix")
#: Components of an address or geolocation that the REST compound value does not show.
_NOT_IN_REST = frozenset({"Xyz"})


def compound_rest_value(name: str, components: dict[str, Any]) -> Any:
    """A whole compound as Salesforce's REST API gives it: a person's `Name` as the full name
    (first, middle, last, suffix; the salutation is not part of it), an address or geolocation
    as an object with lower-camel keys (`street`, `city`, ..., `latitude`), None when empty."""
    if name == PERSON_NAME:
        return " ".join(str(components[p]) for p in _FULL_NAME_PARTS if components.get(p)) or None
    value = {child[:1].lower() + child[1:]: child_value for child, child_value in components.items()
             if child not in _NOT_IN_REST}
    return value if any(v is not None for v in value.values()) else None


def _flatten(name: str, value: Any, out: dict[str, Any]) -> None:
    """A full image's field: a compound as its components by their REST names, and whole."""
    if isinstance(value, dict):
        for child, child_value in value.items():
            out[flat_field_name(name, child)] = child_value
        out[name] = compound_rest_value(name, value)
    else:
        out[name] = value


def _flatten_part(name: str, value: Any, out: dict[str, Any]) -> None:
    """An update's field: a compound's components only (the event does not hold the whole)."""
    if isinstance(value, dict):
        for child, child_value in value.items():
            out[flat_field_name(name, child)] = child_value
    else:
        out[name] = value


def _touched_values(payload: dict[str, Any], names: Iterable[str], compounds: dict[str, list[str]],
                    value_of_nulled: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = list(names)
    # A compound listed with its components changed only in those components.
    detailed = {name.partition(".")[0] for name in names if "." in name}
    for name in names:
        parent, dot, child = name.partition(".")
        if not dot and name in detailed:
            continue
        if dot:
            nested = payload.get(parent) or {}
            out[flat_field_name(parent, child)] = None if value_of_nulled else nested.get(child)
        elif name in compounds:
            nested = payload.get(name) or {}
            _flatten_part(name, {c: None if value_of_nulled else nested.get(c) for c in compounds[name]}, out)
        else:
            _flatten_part(name, None if value_of_nulled else payload.get(name), out)
    return out


def decode_change(schema: EventSchema, payload: bytes, replay_id: bytes) -> RecordChange:
    """Decode one change event payload. Raises SchemaError when it is not a change event."""
    data = schema.decode(payload)
    if HEADER not in data:
        raise SchemaError(f"cdc: schema {schema.schema_id} has no {HEADER}; not a change event")
    header = decode_header(schema, data.pop(HEADER))
    values: dict[str, Any] = {}
    if header.change_type in FULL_IMAGE_TYPES:
        compounds = schema.compound_fields
        for name, value in data.items():
            if value is None and name in compounds:  # a compound with no value: each component empty
                value = dict.fromkeys(compounds[name])
            _flatten(name, value, values)
    elif header.change_type == UPDATE:
        compounds = schema.compound_fields
        values = _touched_values(data, header.changed_fields, compounds, value_of_nulled=False)
        values.update(_touched_values(data, header.nulled_fields, compounds, value_of_nulled=True))
        touched = (name.partition(".")[0] for name in (*header.changed_fields, *header.nulled_fields))
        partial = frozenset(name for name in touched if name in compounds and name != HEADER)
        return RecordChange(header=header, values=values, replay_id=replay_id.hex(), partial_compounds=partial)
    return RecordChange(header=header, values=values, replay_id=replay_id.hex())


def commit_order(changes: list[RecordChange]) -> list[RecordChange]:
    """Changes in commit order (commitNumber, then sequenceNumber inside a transaction);
    stable, so events Salesforce already sent in order stay so."""
    return sorted(changes, key=lambda c: (c.header.commit_number, c.header.sequence_number))


def rest_value(value: Any, sf_type: str) -> Any:
    """An Avro value as Salesforce's REST API gives it: date-times (epoch milliseconds) and
    dates (days since epoch) as ISO text, numbers and text as they are."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_sf_datetime(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    if isinstance(value, date):
        return value.isoformat()
    if sf_type == "datetime" and isinstance(value, int):
        return format_sf_datetime(datetime.fromtimestamp(value / 1000, tz=timezone.utc))
    if sf_type == "date" and isinstance(value, int):
        return (_EPOCH + timedelta(days=value)).isoformat()
    return value
