"""Compare every record on both sides, by Salesforce Id and every mapped field, for the fault matrix.

What is counted (per object, then summed):

* **duplicated** — more than one MongoDB document holding one Salesforce Id (each extra one
  counts), or more than one Salesforce record holding one MongoDB `_id` in the external-id field.
* **lost** — a live Salesforce record with no document, unless the load deleted it on the MongoDB
  side; a document whose Salesforce Id has no live record, unless the load deleted it in
  Salesforce; a document still without a Salesforce Id (its create never reached Salesforce).
* **extra** — a record or document still there although the load deleted it on the other side
  (a delete not applied).
* **stale** — both there, but a writable mapped field differs (values compared in the sync's
  canonical form, so Decimal128 vs number or BSON date vs ISO text do not count). Read-only fields
  (formulas, system stamps) travel one way only and are reported apart as `stale_read_only`; so
  are fields of a document born in MongoDB that the document never had and Salesforce filled in
  on create (the owner, a default, the external id), as `unfilled_defaults`: the sync does not
  copy them back today, which is a gap of its own, not a fault's doing.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce import Salesforce

from bench.chaos_sync import OBJECTS, SyncUnderTest
from connectors.engine.conversion import ConversionError
from connectors.engine.plan import mongo_values, salesforce_values

_KINDS = ("lost", "duplicated", "stale", "extra")


@dataclass
class Comparison:
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    compared: int = 0
    #: (kind, object, Salesforce Id or document _id) of every record counted, for the diagnosis
    records: list[tuple[str, str, str]] = field(default_factory=list)

    def note(self, kind: str, detail: str, sf_object: str = "", key: Any = None) -> None:
        self.counts[kind] += 1
        if len(self.examples) < 30:
            self.examples.append(f"{kind}: {detail}")
        if sf_object and key is not None:
            self.records.append((kind, sf_object, str(key)))

    @property
    def equal(self) -> bool:
        return not any(self.counts[k] for k in _KINDS)

    def figures(self) -> dict[str, Any]:
        return {**{k: self.counts[k] for k in _KINDS}, "stale_read_only": self.counts["stale_read_only"],
                "unfilled_defaults": self.counts["unfilled_defaults"],
                "records_compared": self.compared, "examples": self.examples}


def compare(sut: SyncUnderTest, sf: Salesforce, intents: dict[tuple[str, str], str],
            born_in_mongodb: set[Any] | frozenset[Any] = frozenset()) -> Comparison:
    """Both sides now; `intents` maps (object, Id) to "deleted in <side>" for the load's deletes,
    `born_in_mongodb` holds the `_id`s of the documents the load created."""
    result = Comparison()
    for name in OBJECTS:
        _compare_object(sut, sf, name, intents, born_in_mongodb, result)
    return result


def _compare_object(sut: SyncUnderTest, sf: Salesforce, name: str, intents: dict[tuple[str, str], str],
                    born_in_mongodb: set[Any] | frozenset[Any], result: Comparison) -> None:
    spec = sut.specs[name]
    fields = ", ".join(dict.fromkeys(["Id", spec.sf_external_id_field, *spec.sf_field_names]))
    records = {r["Id"]: r for r in sf.query_all(f"SELECT {fields} FROM {name}")["records"]}
    documents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for document in sut.collection(name).find({}):
        key = document.get(spec.key_field)
        if key:
            documents[key].append(document)
        else:
            result.note("lost", f"{name} document {document['_id']} has no Salesforce Id (not written to Salesforce)",
                        name, document["_id"])
    for key, group in documents.items():
        if len(group) > 1:
            for _ in group[1:]:
                result.note("duplicated", f"{name} {key}: {len(group)} documents ({[d['_id'] for d in group]})",
                            name, key)
    external = Counter(r.get(spec.sf_external_id_field) for r in records.values() if r.get(spec.sf_external_id_field))
    for mongo_id, n in external.items():
        for _ in range(n - 1):
            result.note("duplicated", f"{name}: {n} Salesforce records for document {mongo_id}", name, mongo_id)
    read_only = {f.sf_field for f in spec.fields if not f.sf_writable}
    spec_fields = {f.sf_field: f.mongo_field for f in spec.fields}
    for record_id, record in records.items():
        result.compared += 1
        if record_id not in documents:
            if intents.get((name, record_id)) == "deleted in mongodb":
                result.note("extra", f"{name} {record_id} deleted in MongoDB, still in Salesforce", name, record_id)
            else:
                result.note("lost", f"{name} {record_id} in Salesforce, no document", name, record_id)
            continue
        try:
            wanted = salesforce_values(spec, record)
        except ConversionError as exc:
            result.note("stale", f"{name} {record_id}: {exc}", name, record_id)
            continue
        document = documents[record_id][0]
        have = mongo_values(spec, document, writable_only=False)
        differing = sorted(f for f in wanted if f != "Id" and wanted[f] != have.get(f))
        writable = [f for f in differing if f not in read_only]
        if document["_id"] in born_in_mongodb:  # what Salesforce filled in on create
            unfilled = [f for f in writable if spec_fields[f] not in document]
            if unfilled:
                result.counts["unfilled_defaults"] += 1
                writable = [f for f in writable if f not in unfilled]
        if writable:
            differences = ", ".join(f"{f}: sf={wanted[f]!r} mongo={have.get(f)!r}" for f in writable[:3])
            result.note("stale", f"{name} {record_id} {differences}", name, record_id)
        elif differing:
            result.counts["stale_read_only"] += 1
    for key in documents:
        if key in records:
            continue
        if intents.get((name, key)) == "deleted in salesforce":
            result.note("extra", f"{name} {key} deleted in Salesforce, document still there", name, key)
        else:
            gone = sf.query_all(f"SELECT Id, {spec.sf_external_id_field} FROM {name} WHERE Id = '{key}'",
                                include_deleted=True)["records"]
            why = (f"deleted in Salesforce, not by the load; document _id {documents[key][0]['_id']}, record's "
                   f"{spec.sf_external_id_field} {gone[0].get(spec.sf_external_id_field)}") if gone \
                else "not in Salesforce at all"
            result.note("lost", f"{name} {key}: a document, no live Salesforce record ({why}; "
                        f"load's last delete: {intents.get((name, key), 'none')})", name, key)
