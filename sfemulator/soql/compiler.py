"""Compile a parsed SOQL query to SQLite SQL over the emulator's tables.

Everything (WHERE, ORDER BY, LIMIT/OFFSET, parent relationship joins) is
pushed down to SQLite so pages over 100k rows stay cheap.  Execution is in
two steps (see :mod:`sfemulator.query`): ``id_sql`` yields the ordered rowids
of all matches (the server-side cursor), ``page_sql(n)`` fetches the selected
columns for a slice of them.

SOQL semantics preserved here:
* text comparisons are case-insensitive (columns are COLLATE NOCASE);
* ``!=`` / ``NOT IN`` also match nulls; comparisons never yield SQL NULL, so
  ``NOT`` behaves as two-valued logic;
* datetimes compare as instants (stored as fixed-width UTC text);
* Ids accept 15 or 18 chars and compare on the canonical 18-char form.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import ids
from ..errors import ApiError, unknown_column, unknown_relationship, unknown_sobject_in_query
from ..schema import NUMBER_TYPES, TEXT_TYPES, Field, SObject, get_object
from ..store import q
from ..timefmt import canonical_datetime, parse_date
from . import ast
from .dates import as_datetime_text, date_range
from .lexer import error_at

MAX_OFFSET = 2000
_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


@dataclass(frozen=True)
class Column:
    """A resolved field reference: SQL expression plus metadata."""

    sql: str
    field: Field
    owner: SObject
    relationship: str | None  # canonical relationship name for parent fields
    nullable: bool


@dataclass
class _Join:
    alias: str
    parent: SObject
    ref: Field


@dataclass
class CompiledQuery:
    sobject: SObject
    count_only: bool
    id_sql: str
    params: list[Any]
    count_sql: str
    select: list[Column] = field(default_factory=list)
    _joins_sql: str = ""
    _rel_ids: dict[str, str] = field(default_factory=dict)  # relationship -> SQL of parent Id

    def page_sql(self, n: int) -> str:
        """SQL selecting rowid + selected columns for ``n`` rowid parameters."""
        # rowid (cursor order), the record Id (attributes.url), selected columns, parent Ids.
        cols = ["t.rowid", "t.Id"] + [c.sql for c in self.select] + list(self._rel_ids.values())
        marks = ",".join("?" * n)
        return (f"SELECT {', '.join(cols)} FROM {q(self.sobject.table)} AS t{self._joins_sql} "
                f"WHERE t.rowid IN ({marks})")

    def make_builder(self, version: str) -> Callable[[tuple], dict]:
        """Return a function turning one ``page_sql`` row into a REST record dict."""
        obj_name = self.sobject.name
        base = f"/services/data/v{version}/sobjects/"
        plan: list[tuple[str | None, str, int, bool]] = []
        for i, c in enumerate(self.select, start=2):
            plan.append((c.relationship, c.field.name, i, c.field.type == "boolean"))
        rel_index = {rel: len(self.select) + 2 + k for k, rel in enumerate(self._rel_ids)}
        rel_type = {c.relationship: c.owner.name for c in self.select if c.relationship}

        def build(row: tuple) -> dict:
            rid = row[1]
            rec: dict[str, Any] = {"attributes": {"type": obj_name, "url": f"{base}{obj_name}/{rid}"}}
            parents: dict[str, dict | None] = {}
            for rel, name, i, is_bool in plan:
                value = row[i]
                if is_bool and value is not None:
                    value = bool(value)
                if rel is None:
                    rec[name] = value
                    continue
                if rel not in parents:
                    pid = row[rel_index[rel]]
                    parents[rel] = None if pid is None else {
                        "attributes": {"type": rel_type[rel], "url": f"{base}{rel_type[rel]}/{pid}"}}
                    rec[rel] = parents[rel]
                if parents[rel] is not None:
                    parents[rel][name] = value
            return rec

        return build


class _Compiler:
    def __init__(self, query: ast.Query, include_deleted: bool) -> None:
        self.query = query
        self.text = query.text
        self.include_deleted = include_deleted
        obj = get_object(query.sobject)
        if obj is None:
            raise error_at(self.text, query.sobject_pos, "INVALID_TYPE", unknown_sobject_in_query(query.sobject))
        self.obj = obj
        self.joins: dict[str, _Join] = {}
        self.params: list[Any] = []

    def fail(self, pos: int, code: str, message: str) -> ApiError:
        return error_at(self.text, pos, code, message)

    # -- field resolution ----------------------------------------------------
    def resolve(self, path: ast.FieldPath) -> Column:
        parts = list(path.parts)
        if len(parts) > 1 and parts[0].lower() == self.obj.name.lower() and self.obj.relationship(parts[0]) is None:
            parts = parts[1:]  # "Account.Name FROM Account" qualifies with the object itself
        if len(parts) == 1:
            f = self.obj.field(parts[0])
            if f is None:
                raise self.fail(path.pos, "INVALID_FIELD", unknown_column(parts[0], self.obj.name))
            return Column(f"t.{q(f.name)}", f, self.obj, None, f.nillable and not f.system)
        if len(parts) > 2:
            raise self.fail(path.pos, "INVALID_FIELD", unknown_relationship(parts[0]))
        ref = self.obj.relationship(parts[0])
        parent = get_object(ref.reference_to[0]) if ref else None
        if ref is None or parent is None:
            raise self.fail(path.pos, "INVALID_FIELD", unknown_relationship(parts[0]))
        f = parent.field(parts[1])
        if f is None:
            raise self.fail(path.pos, "INVALID_FIELD", unknown_column(parts[1], parent.name))
        join = self.joins.get(ref.relationship_name)
        if join is None:
            join = _Join(f"j{len(self.joins)}", parent, ref)
            self.joins[ref.relationship_name] = join
        return Column(f"{join.alias}.{q(f.name)}", f, parent, ref.relationship_name, True)

    # -- WHERE -----------------------------------------------------------------
    def expr(self, node: ast.Expr) -> str:
        if isinstance(node, ast.BoolOp):
            return "(" + f" {node.op} ".join(self.expr(i) for i in node.items) + ")"
        if isinstance(node, ast.Not):
            return f"(NOT {self.expr(node.item)})"
        return self.comparison(node)

    def comparison(self, node: ast.Comparison) -> str:
        col = self.resolve(node.field)
        f = col.field
        if f.type == "textarea" and f.length > 255:
            raise self.fail(node.field.pos, "INVALID_FIELD",
                            f"field '{f.name}' can not be filtered in a query call")
        if node.op in ("IN", "NOTIN"):
            values = [self.literal(col, v) for v in node.value]  # type: ignore[union-attr]
            non_null = [v for v in values if v is not None]
            has_null = len(non_null) != len(values)
            self.params.extend(non_null)
            marks = ",".join("?" * len(non_null))
            if node.op == "IN":
                parts = [f"({col.sql} IS NOT NULL AND {col.sql} IN ({marks}))"] if non_null else []
                if has_null:
                    parts.append(f"{col.sql} IS NULL")
                return "(" + (" OR ".join(parts) or "0") + ")"
            parts = [f"({col.sql} IS NULL OR {col.sql} NOT IN ({marks}))"] if non_null else []
            if has_null:
                parts.append(f"{col.sql} IS NOT NULL")
            return "(" + (" AND ".join(parts) or "1") + ")"
        lit: ast.Literal = node.value  # type: ignore[assignment]
        if node.op == "LIKE":
            if f.type not in TEXT_TYPES and f.type not in ("id", "reference"):
                raise self.fail(node.pos, "INVALID_QUERY_FILTER_OPERATOR",
                                f"invalid operator on {f.type} field")
            if lit.kind != "string":
                raise self._type_error(col, lit)
            self.params.append(lit.raw)
            return f"({col.sql} IS NOT NULL AND {col.sql} LIKE ? ESCAPE '\\')"
        if lit.kind == "dateliteral" and f.type in ("date", "datetime"):
            return self.date_literal(col, node.op, lit)
        value = self.literal(col, lit)
        if value is None:
            if node.op == "=":
                return f"({col.sql} IS NULL)"
            if node.op == "!=":
                return f"({col.sql} IS NOT NULL)"
            return "0"
        self.params.append(value)
        op = _SQL_OPS[node.op]
        if not col.nullable:
            return f"{col.sql} {op} ?"
        if node.op == "!=":
            return f"({col.sql} IS NULL OR {col.sql} <> ?)"
        return f"({col.sql} IS NOT NULL AND {col.sql} {op} ?)"

    def date_literal(self, col: Column, op: str, lit: ast.Literal) -> str:
        name, n = lit.value  # type: ignore[misc]
        rng = date_range(name, n)
        if rng is None:
            raise self.fail(lit.pos, "MALFORMED_QUERY", f"unexpected token: {lit.raw}")
        lo, hi = rng
        if col.field.type == "datetime":
            lo_v, hi_v = as_datetime_text(lo), as_datetime_text(hi)
        else:
            lo_v, hi_v = lo.isoformat(), hi.isoformat()
        c = col.sql
        sql = {
            "=": f"({c} >= ? AND {c} < ?)", "!=": f"({c} IS NULL OR {c} < ? OR {c} >= ?)",
            "<": f"{c} < ?", ">=": f"{c} >= ?", "<=": f"{c} < ?", ">": f"{c} >= ?",
        }[op]
        params = {"=": [lo_v, hi_v], "!=": [lo_v, hi_v], "<": [lo_v], ">=": [lo_v],
                  "<=": [hi_v], ">": [hi_v]}[op]
        self.params.extend(params)
        return f"({c} IS NOT NULL AND {sql})" if op != "!=" else sql

    def _type_error(self, col: Column, lit: ast.Literal) -> ApiError:
        t = col.field.type
        if t in TEXT_TYPES or t in ("id", "reference"):
            msg = "must be of type string and should be enclosed in quotes"
        else:
            wanted = {"boolean": "boolean", "int": "integer", "date": "date",
                      "datetime": "dateTime"}.get(t, "double")
            msg = f"must be of type {wanted} and should not be enclosed in quotes"
        return self.fail(lit.pos, "INVALID_FIELD", f"value of filter criterion for field '{col.field.name}' {msg}")

    def literal(self, col: Column, lit: ast.Literal) -> Any:
        """Check ``lit`` against the field type and return the SQL parameter value."""
        if lit.kind == "null":
            return None
        t = col.field.type
        if t in TEXT_TYPES and lit.kind == "string":
            return lit.value
        if t in ("id", "reference") and lit.kind == "string":
            norm = ids.normalize(lit.value)
            if norm is None:
                raise self.fail(lit.pos, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}")
            return norm
        if t == "boolean" and lit.kind == "boolean":
            return int(bool(lit.value))
        if t in NUMBER_TYPES and lit.kind == "number":
            return lit.value
        if t == "date" and lit.kind == "date" and parse_date(str(lit.value)):
            return lit.value
        if t == "datetime" and lit.kind == "datetime":
            canon = canonical_datetime(str(lit.value))
            if canon is None:
                raise self.fail(lit.pos, "MALFORMED_QUERY", f"unexpected token: {lit.raw}")
            return canon
        raise self._type_error(col, lit)

    # -- whole query -----------------------------------------------------------
    def compile(self) -> CompiledQuery:
        qy = self.query
        select: list[Column] = []
        seen: set[str] = set()
        for p in qy.fields:
            col = self.resolve(p)
            key = f"{col.relationship or ''}.{col.field.name}".lower()
            if key in seen:
                raise self.fail(p.pos, "MALFORMED_QUERY", f"duplicate field selected: {p.text}")
            seen.add(key)
            select.append(col)
        where = [] if self.include_deleted else ["t.IsDeleted = 0"]
        if qy.where is not None:
            where.append(self.expr(qy.where))
        order = []
        for item in qy.order_by:
            col = self.resolve(item.field)
            if col.field.type == "textarea" and col.field.length > 255:
                raise self.fail(item.field.pos, "INVALID_FIELD",
                                f"field '{col.field.name}' can not be sorted in a query call")
            direction = " DESC" if item.descending else ""
            default_nulls_last = item.descending
            nulls = ""
            if item.nulls_last is not None and item.nulls_last != default_nulls_last:
                nulls = " NULLS LAST" if item.nulls_last else " NULLS FIRST"
            order.append(f"{col.sql}{direction}{nulls}")
        order.append("t.rowid")
        where.extend(self._seek_hint(qy))
        if qy.offset is not None and qy.offset > MAX_OFFSET:
            raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        joins_sql = "".join(
            f" LEFT JOIN {q(j.parent.table)} AS {j.alias} ON {j.alias}.Id = t.{q(j.ref.name)}"
            for j in self.joins.values())
        base = f"FROM {q(self.obj.table)} AS t{joins_sql} WHERE {' AND '.join(where) or '1'}"
        limit = f" LIMIT {qy.limit if qy.limit is not None else -1} OFFSET {qy.offset or 0}"
        compiled = CompiledQuery(
            sobject=self.obj, count_only=qy.count_only,
            id_sql=f"SELECT t.rowid {base} ORDER BY {', '.join(order)}{limit}",
            params=self.params,
            count_sql=f"SELECT COUNT(*) FROM (SELECT 1 {base}{limit})",
            select=select, _joins_sql=joins_sql,
            _rel_ids={rel: f"{j.alias}.Id" for rel, j in self.joins.items()},
        )
        return compiled


    # -- keyset seek hint --------------------------------------------------------
    def _seek_hint(self, qy: ast.Query) -> list[str]:
        """A redundant ``first_sort_key >= bound`` implied by WHERE, so SQLite seeks instead of scanning.

        The sync pattern ``F > X OR (F = X AND Id > Y) ORDER BY F, Id`` has no
        single range SQLite can see through the OR; every branch still implies
        ``F >= X``, and stating it lets the (F, Id) index start at X.
        """
        if qy.where is None or not qy.order_by or qy.order_by[0].descending:
            return []
        col = self.resolve(qy.order_by[0].field)
        if col.relationship is not None or col.nullable:
            return []
        bound = self._lower_bound(qy.where, col)
        if bound is None:
            return []
        self.params.append(bound)
        return [f"{col.sql} >= ?"]

    def _lower_bound(self, node: ast.Expr, col: Column) -> Any:
        if isinstance(node, ast.Comparison):
            if node.op not in (">", ">=", "=") or not isinstance(node.value, ast.Literal):
                return None
            if node.value.kind in ("null", "dateliteral"):
                return None
            other = self.resolve(node.field)
            if other.sql != col.sql:
                return None
            return self.literal(col, node.value)
        if isinstance(node, ast.BoolOp):
            bounds = [self._lower_bound(i, col) for i in node.items]
            if node.op == "AND":
                known = [b for b in bounds if b is not None]
                return max(known) if known else None
            return None if any(b is None for b in bounds) else min(bounds)
        return None


def compile_query(query: ast.Query, include_deleted: bool = False) -> CompiledQuery:
    """Resolve names/types against the schema and build SQL; raises ApiError."""
    return _Compiler(query, include_deleted).compile()
