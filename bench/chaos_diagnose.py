"""What the fault matrix keeps of a record that did not arrive: enough to find why afterwards.

For every record a comparison counted (lost, duplicated, stale, extra): its Salesforce record
(every mapped field and the system stamps), its MongoDB document(s) (whole, `_sync` included),
its record timeline (every line the apply workers wrote for it, both ids) and every edit the load
made to it. Read while the services still run, at the end of a scenario.
"""
from __future__ import annotations

import json
from typing import Any

from bson import ObjectId
from bson.json_util import dumps

from bench.chaos_compare import Comparison
from bench.chaos_sync import SyncUnderTest

#: Records diagnosed at most (a broken run could count hundreds).
LIMIT = 20

_TIMELINE_SCRIPT = """
import json
from connectors.models import ObjectMapping
from connectors.operations.timeline import timeline
out = []
for sf_object, keys in json.loads(KEYS).items():
    mapping = ObjectMapping.objects.get(sf_object=sf_object)
    for key in keys:
        rows = [dict(at=e.created_at.strftime("%H:%M:%S.%f")[:-3], source=e.source, outcome=e.outcome,
                     op=e.operation, version=e.source_version, sf_id=e.salesforce_id, mongo_id=e.mongo_id,
                     at_offset=f"{e.topic}[{e.partition}]@{e.offset}", fields=e.fields, detail=e.detail,
                     event_id=e.event_id)
                for e in timeline(mapping, key)]
        out.append(dict(sf_object=sf_object, key=key, timeline=rows))
print(json.dumps(out))
"""


def diagnose(sut: SyncUnderTest, comparison: Comparison,
             journal: list[tuple[str, str, str, str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each counted record's state on both sides, timeline and load edits (JSON-ready)."""
    counted = list(dict.fromkeys(comparison.records))[:LIMIT]
    if not counted:
        return []
    sf = sut.salesforce()
    found: list[dict[str, Any]] = []
    for kind, sf_object, key in counted:
        spec = sut.specs[sf_object]
        fields = ", ".join(dict.fromkeys(["Id", spec.sf_external_id_field, *spec.sf_field_names, "SystemModstamp",
                                          "LastModifiedDate", "IsDeleted"]))
        where = f"Id = '{key}'" if not ObjectId.is_valid(key) else f"{spec.sf_external_id_field} = '{key}'"
        records = sf.query_all(f"SELECT {fields} FROM {sf_object} WHERE {where}", include_deleted=True)["records"]
        ids: set[Any] = {key}
        if ObjectId.is_valid(key):
            ids.add(ObjectId(key))
        ids |= {r["Id"] for r in records}
        documents = list(sut.collection(sf_object).find({"$or": [{spec.key_field: {"$in": list(ids)}},
                                                                 {"_id": {"$in": list(ids)}}]}))
        ids |= {str(d["_id"]) for d in documents}
        edits = [list(e) for e in journal if e[2] == sf_object and (e[4] in {str(i) for i in ids}
                                                                    or e[5].get(spec.key_field) in ids)]
        found.append({"kind": kind, "object": sf_object, "key": key,
                      "salesforce": [{k: v for k, v in r.items() if k != "attributes"} for r in records],
                      "mongodb": json.loads(dumps(documents)), "load_edits": edits})
    by_object: dict[str, list[str]] = {}
    for entry in found:
        by_object.setdefault(entry["object"], []).append(entry["key"])
    script = f"KEYS = {json.dumps(by_object)!r}\n{_TIMELINE_SCRIPT}"
    timelines = json.loads(sut.manage("shell", "-c", script).strip().splitlines()[-1])
    for entry, lines in zip(found, timelines, strict=True):
        entry["timeline"] = lines["timeline"]
    return found
