"""The demo org's object and field metadata, kept as data.

Everything else (DDL, describe, validation, SOQL) is derived from
:data:`OBJECTS`; add an object or field here and it appears everywhere.
Field ``type`` values are the describe types (id, string, textarea, email,
phone, url, picklist, reference, boolean, int, double, currency, percent,
date, datetime).
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from typing import Any

#: Describe ``soapType`` per field type.
SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "string": "xsd:string", "textarea": "xsd:string",
    "email": "xsd:string", "phone": "xsd:string", "url": "xsd:string", "picklist": "xsd:string",
    "boolean": "xsd:boolean", "int": "xsd:int", "double": "xsd:double", "currency": "xsd:double",
    "percent": "xsd:double", "date": "xsd:date", "datetime": "xsd:dateTime",
}
#: Types whose values are text and compare case-insensitively in SOQL.
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
ID_TYPES = frozenset({"id", "reference"})


@dataclass(frozen=True)
class Field:
    """One field; flags mirror the describe attributes of the same name."""

    name: str
    label: str
    type: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    #: Must be present (non-null) on create — Salesforce's "required".
    required: bool = False
    external_id: bool = False
    unique: bool = False
    id_lookup: bool = False
    name_field: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    picklist_default: str | None = None
    restricted_picklist: bool = False
    defaulted_on_create: bool = False
    calculated: bool = False
    auto_number: bool = False
    #: Server maintained (Id, audit fields, IsDeleted): never client-writable.
    system: bool = False

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES


@dataclass(frozen=True)
class SObject:
    """One sObject type and its ordered fields."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[Field, ...]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    _by_lower: dict = dc_field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_lower.update({f.name.lower(): f for f in self.fields})

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def table(self) -> str:
        return f"sobj_{self.name}"

    def field(self, name: str) -> Field | None:
        """Case-insensitive field lookup (API names are case-insensitive)."""
        return self._by_lower.get(name.lower())

    def with_fields(self, fields: tuple[Field, ...]) -> SObject:
        """A copy of this object with ``fields`` in place of its own."""
        # _by_lower must start empty: replace() would otherwise hand this object's index to the copy.
        return replace(self, fields=fields, _by_lower={})

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationshipName is ``name`` (case-insensitive)."""
        low = name.lower()
        for f in self.fields:
            if f.relationship_name and f.relationship_name.lower() == low:
                return f
        return None

    @property
    def has_owner(self) -> bool:
        return self.field("OwnerId") is not None


# --- field builders: one per kind, so object definitions read like a table ---

def text(name: str, label: str, length: int = 255, **kw) -> Field:
    return Field(name, label, "string", length=length, **kw)


def textarea(name: str, label: str, length: int = 255, **kw) -> Field:
    return Field(name, label, "textarea", length=length, **kw)


def typed_text(kind: str, name: str, label: str, length: int, **kw) -> Field:
    return Field(name, label, kind, length=length, **kw)


def picklist(name: str, label: str, values: Iterable[str], **kw) -> Field:
    return Field(name, label, "picklist", length=255, picklist_values=tuple(values), **kw)


def number(kind: str, name: str, label: str, precision: int = 18, scale: int = 0, **kw) -> Field:
    if kind == "int":
        return Field(name, label, "int", digits=precision, **kw)
    return Field(name, label, kind, precision=precision, scale=scale, **kw)


def reference(name: str, label: str, to: str, relationship: str, **kw) -> Field:
    return Field(name, label, "reference", length=18, reference_to=(to,),
                 relationship_name=relationship, **kw)


def date_field(name: str, label: str, **kw) -> Field:
    return Field(name, label, "date", **kw)


def external_id(name: str = "Mongo_Id__c", label: str = "Mongo Id", length: int = 24) -> Field:
    return text(name, label, length, external_id=True, unique=True, id_lookup=True)


def _readonly(f: Field) -> Field:
    return Field(**{**f.__dict__, "createable": False, "updateable": False, "system": True,
                    "nillable": False, "defaulted_on_create": True})


def head_fields() -> tuple[Field, ...]:
    """Id and IsDeleted: first in every describe, as on a real org."""
    return (
        _readonly(Field("Id", "Record ID", "id", length=18, id_lookup=True)),
        _readonly(Field("IsDeleted", "Deleted", "boolean")),
    )


def audit_fields(owner: bool = True) -> tuple[Field, ...]:
    """OwnerId (writable) plus the server-maintained audit fields."""
    out: list[Field] = []
    if owner:
        out.append(reference("OwnerId", "Owner ID", "User", "Owner", nillable=False,
                             defaulted_on_create=True))
    out += [
        _readonly(Field("CreatedDate", "Created Date", "datetime")),
        _readonly(reference("CreatedById", "Created By ID", "User", "CreatedBy")),
        _readonly(Field("LastModifiedDate", "Last Modified Date", "datetime")),
        _readonly(reference("LastModifiedById", "Last Modified By ID", "User", "LastModifiedBy")),
        _readonly(Field("SystemModstamp", "System Modstamp", "datetime")),
    ]
    return tuple(out)


INDUSTRIES = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
    "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering",
    "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government", "Healthcare",
    "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit",
    "Other", "Recreation", "Retail", "Shipping", "Technology", "Telecommunications",
    "Transportation", "Utilities",
)
ACCOUNT_TYPES = ("Prospect", "Customer - Direct", "Customer - Channel",
                 "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other")
#: Opportunity stage -> default probability, as on a fresh org.
STAGES = {
    "Prospecting": 10, "Qualification": 10, "Needs Analysis": 20, "Value Proposition": 50,
    "Id. Decision Makers": 60, "Perception Analysis": 70, "Proposal/Price Quote": 75,
    "Negotiation/Review": 90, "Closed Won": 100, "Closed Lost": 0,
}

USER = SObject("User", "User", "Users", "005", (
    _readonly(Field("Id", "User ID", "id", length=18, id_lookup=True)),
    text("Username", "Username", 80, nillable=False, required=True, unique=True, id_lookup=True),
    text("LastName", "Last Name", 80, nillable=False, required=True),
    text("FirstName", "First Name", 40),
    Field("Name", "Full Name", "string", length=121, createable=False, updateable=False,
          nillable=False, name_field=True, calculated=True),
    typed_text("email", "Email", "Email", 128, nillable=False, required=True),
    Field("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True),
    *audit_fields(owner=False),
), createable=False, updateable=False, deletable=False)

ACCOUNT = SObject("Account", "Account", "Accounts", "001", (
    *head_fields(),
    text("Name", "Account Name", 255, nillable=False, required=True, name_field=True, id_lookup=True),
    picklist("Type", "Account Type", ACCOUNT_TYPES),
    textarea("BillingStreet", "Billing Street", 255),
    text("BillingCity", "Billing City", 40),
    text("BillingState", "Billing State/Province", 80),
    text("BillingPostalCode", "Billing Zip/Postal Code", 20),
    text("BillingCountry", "Billing Country", 80),
    typed_text("phone", "Phone", "Account Phone", 40),
    typed_text("url", "Website", "Website", 255),
    picklist("Industry", "Industry", INDUSTRIES),
    number("currency", "AnnualRevenue", "Annual Revenue", 18, 0),
    number("int", "NumberOfEmployees", "Employees", 8),
    text("AccountNumber", "Account Number", 40),
    picklist("Rating", "Account Rating", ("Hot", "Warm", "Cold")),
    textarea("Description", "Account Description", 32000),
    *audit_fields(),
    picklist("Customer_Tier__c", "Customer Tier", ("Gold", "Silver", "Bronze"), restricted_picklist=True),
    external_id(),
    text("Last_Synced_Note__c", "Last Synced Note", 255),
))

CONTACT = SObject("Contact", "Contact", "Contacts", "003", (
    *head_fields(),
    reference("AccountId", "Account ID", "Account", "Account"),
    text("LastName", "Last Name", 80, nillable=False, required=True),
    text("FirstName", "First Name", 40),
    Field("Name", "Full Name", "string", length=121, createable=False, updateable=False,
          nillable=False, name_field=True, calculated=True),
    typed_text("phone", "Phone", "Business Phone", 40),
    typed_text("email", "Email", "Email", 80, id_lookup=True),
    text("Title", "Title", 128),
    date_field("Birthdate", "Birthdate"),
    *audit_fields(),
    external_id(),
    number("double", "Loyalty_Points__c", "Loyalty Points", 18, 2),
))

OPPORTUNITY = SObject("Opportunity", "Opportunity", "Opportunities", "006", (
    *head_fields(),
    reference("AccountId", "Account ID", "Account", "Account"),
    text("Name", "Name", 120, nillable=False, required=True, name_field=True),
    number("currency", "Amount", "Amount", 18, 2),
    date_field("CloseDate", "Close Date", nillable=False, required=True),
    picklist("StageName", "Stage", STAGES, nillable=False, required=True),
    number("percent", "Probability", "Probability (%)", 3, 0, defaulted_on_create=True),
    *audit_fields(),
    external_id(),
))

ORDER = SObject("Order", "Order", "Orders", "801", (
    *head_fields(),
    reference("AccountId", "Account ID", "Account", "Account", nillable=False, required=True),
    date_field("EffectiveDate", "Order Start Date", nillable=False, required=True),
    picklist("Status", "Status", ("Draft", "Activated"), nillable=False, required=True,
             restricted_picklist=True, picklist_default="Draft"),
    Field("OrderNumber", "Order Number", "string", length=30, createable=False, updateable=False,
          nillable=False, auto_number=True, defaulted_on_create=True, id_lookup=True, name_field=True),
    number("currency", "TotalAmount", "Order Amount", 18, 2, createable=False, updateable=False),
    *audit_fields(),
    external_id(),
    picklist("Delivery_Status__c", "Delivery Status", ("Pending", "Shipped", "Delivered", "Returned"),
             restricted_picklist=True),
))

OBJECTS: dict[str, SObject] = {o.name: o for o in (ACCOUNT, CONTACT, OPPORTUNITY, ORDER, USER)}

#: Platform events: publish-only sObjects (no table, not queryable), delivered over the Pub/Sub API
#: on ``/event/<Name>``.  ``e00`` is the key prefix of the Ids a publish returns.
ORDER_UPDATE_EVENT = SObject("Order_Update__e", "Order Update", "Order Updates", "e00", (
    _readonly(Field("ReplayId", "Replay ID", "string", length=255)),
    _readonly(Field("CreatedDate", "Created Date", "datetime")),
    _readonly(reference("CreatedById", "Created By ID", "User", "CreatedBy")),
    _readonly(Field("EventUuid", "Event UUID", "string", length=36)),
    text("Order_Id__c", "Order Id", 18),
    text("Status__c", "Status", 40),
), updateable=False, deletable=False)
PLATFORM_EVENTS: dict[str, SObject] = {e.name: e for e in (ORDER_UPDATE_EVENT,)}


def get_platform_event(name: str) -> SObject | None:
    """Case-insensitive platform event lookup (``Order_Update__e``)."""
    return next((e for e in PLATFORM_EVENTS.values() if e.name.lower() == name.lower()), None)
_BY_LOWER = {k.lower(): v for k, v in OBJECTS.items()}
_BY_PREFIX = {o.key_prefix: o for o in OBJECTS.values()}


def get_object(name: str) -> SObject | None:
    """Case-insensitive object lookup."""
    return _BY_LOWER.get(name.lower())


def object_for_id(record_id: str) -> SObject | None:
    return _BY_PREFIX.get(record_id[:3])


#: When the schema last changed (epoch s): process start, then each run-time edit (describe's
#: ``If-Modified-Since``).
_CHANGED_AT = [time.time()]


def schema_changed_at() -> float:
    return _CHANGED_AT[0]


def install(obj: SObject) -> None:
    """Make ``obj`` the object of its name in :data:`OBJECTS` and in every lookup (run-time schema edits)."""
    _CHANGED_AT[0] = time.time()
    OBJECTS[obj.name] = obj
    _BY_LOWER[obj.name.lower()] = obj
    _BY_PREFIX[obj.key_prefix] = obj


def child_relationships(obj: SObject) -> list[tuple[SObject, Field]]:
    """(child object, reference field) pairs pointing at ``obj``."""
    return [(child, f) for child in OBJECTS.values() for f in child.fields
            if f.type == "reference" and obj.name in f.reference_to]


_AUDIT_REFERENCES = frozenset({"CreatedById", "LastModifiedById", "OwnerId"})


def child_relationship_name(child: SObject, f: Field) -> str | None:
    """The parent's name for ``child`` rows pointing at it through ``f`` (``Contacts``); audit
    references (owner, created/modified by) have none, as on a real org."""
    return None if f.name in _AUDIT_REFERENCES else child.label_plural.replace(" ", "")


def find_child_relationship(obj: SObject, name: str) -> tuple[SObject, Field] | None:
    """(child object, reference field) of ``obj``'s child relationship ``name`` (case-insensitive)."""
    low = name.lower()
    return next(((c, f) for c, f in child_relationships(obj)
                 if (child_relationship_name(c, f) or "").lower() == low), None)


def calculated_name(obj: SObject, values: dict) -> str | None:
    """Compound ``Name`` for person-like objects (FirstName + LastName)."""
    if obj.name not in ("Contact", "User"):
        return None
    parts = [values.get("FirstName"), values.get("LastName")]
    return " ".join(p for p in parts if p) or None


# --- validation rules: data too; sfemulator.rules evaluates them -----------------

#: Operators a rule condition may use ("error when ``field <operator> value`` holds").
RULE_OPERATORS = ("<", "<=", ">", ">=", "=", "!=", "is_null", "not_null")


@dataclass(frozen=True)
class ValidationRule:
    """A simple validation rule: the write fails with ``message`` when the condition holds.

    Reported like a real org's rule whose error location is ``field``:
    ``FIELD_CUSTOM_VALIDATION_EXCEPTION`` with ``fields: [field]``.
    """

    name: str
    object: str
    field: str
    operator: str
    value: Any = None  # compared with the record's value
    message: str = ""


#: Rules every emulated org starts with (more can be added at runtime, see docs/emulator.md).
VALIDATION_RULES: tuple[ValidationRule, ...] = (
    ValidationRule("Amount_Not_Negative", "Opportunity", "Amount", "<", 0,
                   "Amount must not be negative."),
)
