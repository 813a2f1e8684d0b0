from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from connectors import events


def make_envelope(**overrides):  # type: ignore[no-untyped-def]
    values = dict(
        mapping="accounts",
        source="salesforce",
        op="upsert",
        object="Account",
        salesforce_id="001000000000001AAA",
        fields={"Name": "Acme", "AnnualRevenue": 12.5},
        changed_fields=["Name", "AnnualRevenue"],
        source_version={"system_modstamp": "2026-11-25T10:00:00.000Z"},
        origin="salesforce",
    )
    values.update(overrides)
    return events.ChangeEnvelope(**values)


def test_an_envelope_survives_encode_and_decode():
    original = make_envelope()
    decoded = events.decode(events.encode(original))
    assert decoded == original
    assert decoded.published_at is not None


def test_the_key_is_the_salesforce_id():
    assert make_envelope().key == "001000000000001AAA"


def test_an_envelope_that_breaks_the_schema_is_refused_where_it_is_consumed():
    """Encoding does not check the schema (our capture builds every envelope); decoding does."""
    with pytest.raises(events.EnvelopeError, match="op"):
        events.decode(events.encode(make_envelope(op="merge")))
    with pytest.raises(events.EnvelopeError, match="op"):
        events.validate(make_envelope(op="merge").to_dict())


def test_encode_refuses_a_field_value_that_is_not_json():
    for not_a_number in (float("nan"), float("inf"), [1.0, {"deep": -float("inf")}]):
        with pytest.raises(events.EnvelopeError, match="not serialisable"):
            events.encode(make_envelope(fields={"AnnualRevenue": not_a_number}))
    with pytest.raises(events.EnvelopeError, match="not serialisable"):
        events.encode(make_envelope(fields={"CreatedDate": datetime.now(timezone.utc)}))


def test_decode_refuses_a_repeated_changed_field():
    data = json.loads(events.encode(make_envelope()))
    data["changed_fields"] = ["Name", "AnnualRevenue", "Name"]
    with pytest.raises(events.EnvelopeError, match="changed_fields must contain unique items"):
        events.decode(json.dumps(data).encode())


def test_event_ids_are_distinct_version_4_uuids_and_times_are_utc_milliseconds():
    envelopes = [make_envelope() for _ in range(2000)]
    ids = [envelope.event_id for envelope in envelopes]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 and str(uuid.UUID(i)) == i
               for i in ids)
    before = datetime.now(timezone.utc) - timedelta(milliseconds=1)
    stamp = events.utc_now_iso()
    after = datetime.now(timezone.utc)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert before <= datetime.fromisoformat(stamp.replace("Z", "+00:00")) <= after
    for envelope in envelopes[:10]:
        events.validate(json.loads(events.encode(envelope)))  # formats included (uuid, date-time)


@pytest.mark.parametrize(
    "raw, where",
    [
        (b"not json", "not JSON"),
        (None, "tombstone"),
        (json.dumps({"schema_version": 2}).encode(), "envelope invalid"),
    ],
)
def test_decode_names_what_is_wrong(raw, where):
    with pytest.raises(events.EnvelopeError, match=where):
        events.decode(raw)


def test_decode_refuses_a_malformed_salesforce_id():
    data = json.loads(events.encode(make_envelope()))
    data["keys"]["salesforce_id"] = "short"
    with pytest.raises(events.EnvelopeError, match="keys/salesforce_id"):
        events.decode(json.dumps(data).encode())


def test_decode_refuses_extra_top_level_properties():
    data = json.loads(events.encode(make_envelope()))
    data["surprise"] = 1
    with pytest.raises(events.EnvelopeError, match="surprise"):
        events.decode(json.dumps(data).encode())
