from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from bson.decimal128 import Decimal128

from connectors.engine.conversion import (
    ConversionError,
    convert_value,
    format_sf_datetime,
    parse_sf_datetime,
    resolve_conversion,
)
from connectors.engine.mapping import MappingSpec, build_field_specs, to_document
from connectors.engine.naming import suggest_mongo_name

UTC = timezone.utc


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-25T14:05:12.000+0000", datetime(2026, 11, 25, 14, 5, 12, tzinfo=UTC)),
        ("2026-11-25T14:05:12.250Z", datetime(2026, 11, 25, 14, 5, 12, 250000, tzinfo=UTC)),
        ("2026-11-25T16:05:12.000+0200", datetime(2026, 11, 25, 14, 5, 12, tzinfo=UTC)),
    ],
)
def test_salesforce_datetimes_parse_to_aware_utc(text, expected):
    assert parse_sf_datetime(text) == expected


def test_datetimes_format_as_soql_literals_with_milliseconds():
    assert format_sf_datetime(datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"


def test_auto_conversion_follows_the_salesforce_type():
    assert convert_value("Amount", 10.1, resolve_conversion("auto", "currency")) == Decimal128(Decimal("10.1"))
    converted = convert_value("CloseDate", "2026-03-01", resolve_conversion("auto", "date"))
    assert converted == datetime(2026, 3, 1, tzinfo=UTC)
    assert convert_value("NumberOfEmployees", 12.0, resolve_conversion("auto", "int")) == 12
    assert convert_value("Name", "Acme", resolve_conversion("auto", "string")) == "Acme"
    assert convert_value("IsActive", "true", "boolean") is True


def test_nulls_stay_null_whatever_the_type():
    assert convert_value("Amount", None, "decimal") is None


@pytest.mark.parametrize(
    "value, conversion",
    [("ten", "decimal"), ("2026-13-45", "date"), (1.5, "integer"), ("maybe", "boolean"), (True, "double")],
)
def test_a_bad_value_names_the_field_and_the_value(value, conversion):
    with pytest.raises(ConversionError) as caught:
        convert_value("Some_Field__c", value, conversion)
    assert "Some_Field__c" in str(caught.value) and repr(value) in str(caught.value)


def test_to_document_renames_converts_and_leaves_absent_fields_out():
    spec = MappingSpec(
        name="accounts", sf_object="Account", collection="accounts", key_field="sf_id", delete_mode="remove",
        fields=build_field_specs([("Name", "name", "string", "auto", True),
                                  ("AnnualRevenue", "revenue", "currency", "auto", True),
                                  ("Phone", "phone", "phone", "auto", True)]),
    )
    assert to_document(spec, {"Name": "Acme", "AnnualRevenue": 5}) == {"name": "Acme", "revenue": Decimal128("5")}


@pytest.mark.parametrize(
    "sf_field, expected",
    [("BillingCity", "billingCity"), ("Customer_Tier__c", "customerTier"), ("AccountId", "accountId"),
     ("Name", "name"), ("URLField__c", "urlField")],
)
def test_mongo_names_are_suggested_in_camel_case(sf_field, expected):
    assert suggest_mongo_name(sf_field) == expected


