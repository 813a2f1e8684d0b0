"""Describe payloads (global, per-object, per-field) in Salesforce's JSON shape."""
from __future__ import annotations

from .schema import (
    NUMBER_TYPES,
    OBJECTS,
    PLATFORM_EVENTS,
    SOAP_TYPES,
    Field,
    SObject,
    child_relationship_name,
    child_relationships,
)

MASTER_RECORD_TYPE_ID = "012000000000000AAA"
_COMPOUND = {"Billing": "BillingAddress"}
#: A platform event can only be published (created): not queried, updated or deleted.
_EVENT_FLAGS = {"deletable": False, "feedEnabled": False, "layoutable": False, "mergeable": False,
                "mruEnabled": False, "queryable": False, "replicateable": False, "retrieveable": False,
                "searchable": False, "undeletable": False, "updateable": False}


def _long_text(f: Field) -> bool:
    return f.type == "textarea" and f.length > 255


def _byte_length(f: Field) -> int:
    if f.type in ("id", "reference"):
        return 18
    if f.length:
        return f.length * 3
    return 0


def field_describe(f: Field) -> dict:
    """One entry of ``describe.fields``."""
    compound = next((v for k, v in _COMPOUND.items() if f.name.startswith(k)), None)
    return {
        "aggregatable": not _long_text(f),
        "aiPredictionField": False,
        "autoNumber": f.auto_number,
        "byteLength": _byte_length(f),
        "calculated": f.calculated,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": compound,
        "controllerName": None,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": False if f.type == "boolean" else f.picklist_default,
        "defaultValueFormula": None,
        "defaultedOnCreate": f.defaulted_on_create or f.type == "boolean",
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": f.digits,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": "plaintextarea" if f.type == "textarea" else None,
        "filterable": not _long_text(f),
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": not _long_text(f) and f.type not in NUMBER_TYPES - {"int"} and f.type != "datetime",
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": f.id_lookup,
        "inlineHelpText": None,
        "label": f.label,
        "length": f.length if f.type not in ("boolean", "date", "datetime") and f.type not in NUMBER_TYPES else 0,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": False,
        "nillable": f.nillable and f.type != "boolean",
        "permissionable": f.nillable and not f.system and not f.required,
        "picklistValues": [
            {"active": True, "defaultValue": v == f.picklist_default, "label": v, "validFor": None, "value": v}
            for v in f.picklist_values
        ],
        "polymorphicForeignKey": False,
        "precision": f.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted_picklist,
        "scale": f.scale,
        "searchPrefilterable": False,
        "soapType": SOAP_TYPES[f.type],
        "sortable": not _long_text(f),
        "type": f.type,
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
    }


def _object_urls(obj: SObject, version: str) -> dict:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "listviews": f"{base}/listviews",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def global_entry(obj: SObject, version: str) -> dict:
    """One entry of the global describe ``sobjects`` list (also ``objectDescribe``)."""
    entry = _entry(obj, version)
    return entry | _EVENT_FLAGS if obj.name in PLATFORM_EVENTS else entry


def _entry(obj: SObject, version: str) -> dict:
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": obj.createable,
        "custom": obj.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": obj.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": True,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact"),
        "mruEnabled": True,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": obj.deletable,
        "updateable": obj.updateable,
        "urls": _object_urls(obj, version),
    }


def global_describe(version: str) -> dict:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [global_entry(o, version)
                     for o in sorted([*OBJECTS.values(), *PLATFORM_EVENTS.values()], key=lambda o: o.name)],
    }


def _child_relationship(child: SObject, f: Field) -> dict:
    is_audit = f.name in ("CreatedById", "LastModifiedById", "OwnerId")
    return {
        "cascadeDelete": child.name == "Opportunity" and not is_audit,
        "childSObject": child.name,
        "deprecatedAndHidden": False,
        "field": f.name,
        "junctionIdListNames": [],
        "junctionReferenceTo": [],
        "relationshipName": child_relationship_name(child, f),
        "restrictedDelete": child.name == "Order" and not is_audit,
    }


def object_describe(obj: SObject, version: str) -> dict:
    """The full ``/sobjects/{Obj}/describe`` body."""
    body = global_entry(obj, version)
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    body.update({
        "actionOverrides": [],
        "childRelationships": [_child_relationship(c, f) for c, f in child_relationships(obj)],
        "compactLayoutable": True,
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "fields": [field_describe(f) for f in obj.fields],
        "implementedBy": None,
        "implementsInterfaces": None,
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [{
            "active": True, "available": True, "defaultRecordTypeMapping": True,
            "developerName": "Master", "master": True, "name": "Master",
            "recordTypeId": MASTER_RECORD_TYPE_ID,
            "urls": {"layout": f"{base}/describe/layouts/{MASTER_RECORD_TYPE_ID}"},
        }],
        "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": "All " + obj.label_plural.lower(), "name": "everything"}],
    })
    return dict(sorted(body.items()))
