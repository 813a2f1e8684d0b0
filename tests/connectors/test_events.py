from __future__ import annotations

import json

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


def test_encode_refuses_an_unknown_operation():
    with pytest.raises(events.EnvelopeError, match="op"):
        events.encode(make_envelope(op="merge"))


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
