"""Suggested MongoDB names for Salesforce fields. Pure; no I/O."""
from __future__ import annotations

import re

_CUSTOM_SUFFIX = re.compile(r"__(c|r|pc)$")

#: Salesforce field types a sync can carry as a scalar value.
SYNCABLE_TYPES = {
    "string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox",
    "reference", "boolean", "int", "double", "currency", "percent", "date", "datetime", "time", "id",
}


def suggest_mongo_name(sf_field: str) -> str:
    """`BillingCity` -> `billingCity`, `Customer_Tier__c` -> `customerTier`, `AccountId` -> `accountId`."""
    base = _CUSTOM_SUFFIX.sub("", sf_field)
    parts = [p for p in base.split("_") if p]
    if not parts:
        return sf_field
    first, rest = parts[0], parts[1:]
    # Lower the leading capitals run, keeping an acronym's last capital for the next word (URLField -> urlField).
    leading = re.match(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z]", first)
    if leading:
        first = leading.group(0).lower() + first[leading.end():]
    return first + "".join(p[:1].upper() + p[1:] for p in rest)
