"""``/query?q=…&columns=true``: a query's column metadata, as the Salesforce CLI reads it
before printing rows (``columnName``, ``displayName``, ``aggregate``, nested ``joinColumns``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import NUMBER_TYPES, TEXT_TYPES, Field

if TYPE_CHECKING:
    from .compiler import CompiledQuery

_APEX_TYPES = {"id": "Id", "reference": "Id", "boolean": "Boolean", "int": "Integer", "double": "Double",
               "currency": "Decimal", "percent": "Double", "date": "Date", "datetime": "Datetime"}


def column_meta(name: str, display: str, f: Field | None, aggregate: bool = False,
                joins: list[dict] | None = None) -> dict:
    """One ``columnMetadata`` entry of ``/query?columns=true`` (the shape the Salesforce CLI reads)."""
    t = f.type if f is not None else None
    return {
        "aggregate": aggregate, "apexType": None if t is None else _APEX_TYPES.get(t, "String"),
        "booleanType": t == "boolean", "columnName": name, "custom": bool(f is not None and f.custom),
        "displayName": display, "foreignKeyName": None,
        "insertable": bool(f is not None and f.createable and not aggregate and not f.system),
        "joinColumns": joins or [], "numberType": t in NUMBER_TYPES, "textType": t in TEXT_TYPES,
        "updatable": bool(f is not None and f.updateable and not aggregate and not f.system),
    }


def column_metadata(compiled: CompiledQuery) -> dict:
    """The body of ``/query?q=…&columns=true``: what the query returns, without running it."""
    if compiled.aggregate is not None:
        cols = compiled.aggregate.columns
    elif compiled.count_only:
        cols = []
    else:
        cols = _record_columns(compiled)
    is_agg = compiled.aggregate is not None
    id_selected = any(not c.path and c.field.name == "Id" for c in compiled.select)
    return {"columnMetadata": cols, "entityName": "AggregateResult" if is_agg else compiled.sobject.name,
            "groupBy": compiled.group_by, "idSelected": id_selected and not is_agg,
            "keyPrefix": None if is_agg else compiled.sobject.key_prefix}


def _record_columns(compiled: CompiledQuery) -> list[dict]:
    out: list[dict] = []
    nodes: dict[tuple[str, ...], dict] = {}
    for kind, i in compiled.layout:
        if kind == "child":
            child = compiled.children[i]
            out.append(column_meta(child.name, child.name, None, aggregate=True,
                                    joins=_record_columns(child.compiled)))
            continue
        c = compiled.select[i]
        holder = out
        for k in range(1, len(c.path) + 1):
            sub = c.path[:k]
            if sub not in nodes:
                nodes[sub] = column_meta(sub[-1], sub[-1], None)
                holder.append(nodes[sub])
            holder = nodes[sub]["joinColumns"]
        holder.append(column_meta(c.field.name, c.field.name, c.field))
    return out
