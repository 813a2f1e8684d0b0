"""Compile a parsed SOQL query to SQLite SQL over the emulator's tables.

Everything (WHERE, ORDER BY, LIMIT/OFFSET, parent relationship joins up to
five levels, semi-/anti-join subqueries) is pushed down to SQLite so pages over
100k rows stay cheap.  Execution is in two steps (see :mod:`sfemulator.query`):
``id_sql`` yields the ordered rowids of all matches (the server-side cursor),
``page_sql(n)`` fetches the selected columns for a slice of them, and
:meth:`CompiledQuery.attach_children` fills parent-to-child subqueries for a
page with one query per subquery.  Aggregate queries (``GROUP BY``, ``COUNT(f)``,
``SUM``…) compile to one statement (:class:`AggregatePlan`) answered in one page.

SOQL semantics preserved here:
* text comparisons are case-insensitive (columns are COLLATE NOCASE);
* ``!=`` / ``NOT IN`` also match nulls; comparisons never yield SQL NULL, so
  ``NOT`` behaves as two-valued logic;
* datetimes compare as instants (stored as fixed-width UTC text);
* Ids accept 15 or 18 chars and compare on the canonical 18-char form.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from .. import ids
from ..errors import ApiError, unknown_column, unknown_relationship, unknown_sobject_in_query
from ..schema import NUMBER_TYPES, TEXT_TYPES, Field, SObject, find_child_relationship, get_object
from ..store import q
from ..timefmt import canonical_datetime, parse_date
from . import ast
from .columns import column_meta
from .dates import as_datetime_text, date_range
from .lexer import error_at

#: Object name -> SObject (None when unknown): the org's schema, or another API's objects.
Resolver = Callable[[str], SObject | None]

MAX_OFFSET = 2000
MAX_FIELDS_LIMIT = 200  # FIELDS(ALL) / FIELDS(CUSTOM) need LIMIT <= 200
MAX_PATH_DEPTH = 5  # relationship levels in one path, as on a real org
_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


@dataclass(frozen=True)
class Column:
    """A resolved field reference: SQL expression plus metadata.

    ``path`` is the chain of canonical relationship names from the queried object
    (``("Account", "Owner")`` for ``Account.Owner.Name``; ``()`` for its own fields).
    """

    sql: str
    field: Field
    owner: SObject
    path: tuple[str, ...]
    nullable: bool

    @property
    def relationship(self) -> str | None:
        return ".".join(self.path) or None


@dataclass
class _Join:
    alias: str
    parent: SObject
    ref: Field
    from_alias: str


@dataclass
class ChildQuery:
    """A parent-to-child subquery: ``(SELECT … FROM Contacts)``."""

    name: str  # the relationship name as written
    ref: Field  # the child's reference field pointing at the parent
    compiled: CompiledQuery


@dataclass
class AggregatePlan:
    """An aggregate query: its rows are ``AggregateResult`` records.

    One statement per grouping set: just one for ``GROUP BY a, b``; for ``GROUP BY
    ROLLUP(a, b)`` also (a) and () with the rolled-up columns NULL.  Each statement
    selects the output columns, then the group values (for ordering rollup rows).
    """

    statements: list[tuple[str, frozenset[int]]]  # (SQL, indexes of the rolled-up group fields)
    names: list[str]  # output key per selected column
    booleans: list[bool]  # columns to turn from 0/1 into JSON booleans
    columns: list[dict]  # columnMetadata entries
    n_groups: int = 0
    window: tuple[int | None, int] | None = None  # (limit, offset) applied after merging rollup rows

    def rows(self, read: Callable[[str, list], list[tuple]], params: list[Any]) -> list[tuple]:
        """The output rows; rollup rows come after the rows they total (grand total last)."""
        if self.window is None:
            return [row[:len(self.names)] for row in read(self.statements[0][0], params)]
        tagged = [(rolled, row) for sql, rolled in self.statements for row in read(sql, params)]

        def key(item: tuple[frozenset[int], tuple]) -> tuple:
            rolled, row = item
            groups = row[len(self.names):]
            return tuple((i in rolled, groups[i] is not None, groups[i] if groups[i] is not None else 0)
                         for i in range(self.n_groups))

        tagged.sort(key=key)
        limit, offset = self.window
        end = None if limit is None else offset + limit
        return [row[:len(self.names)] for _, row in tagged[offset:end]]


@dataclass
class CompiledQuery:
    sobject: SObject
    count_only: bool
    id_sql: str
    params: list[Any]
    count_sql: str
    select: list[Column] = field(default_factory=list)
    children: list[ChildQuery] = field(default_factory=list)
    #: Output order: ("col", index into select) or ("child", index into children).
    layout: list[tuple[str, int]] = field(default_factory=list)
    aggregate: AggregatePlan | None = None
    group_by: bool = False
    _alias: str = "t"
    _joins_sql: str = ""
    _rel_ids: dict[tuple[str, ...], str] = field(default_factory=dict)  # path -> SQL of parent Id
    _rel_types: dict[tuple[str, ...], str] = field(default_factory=dict)  # path -> parent object name
    _order_sql: str = ""
    _where_sql: str = ""
    _limit: int | None = None

    def page_sql(self, n: int) -> str:
        """SQL selecting rowid + selected columns for ``n`` rowid parameters."""
        # rowid (cursor order), the record Id (attributes.url), selected columns, parent Ids.
        a = self._alias
        cols = [f"{a}.rowid", f"{a}.Id"] + [c.sql for c in self.select] + list(self._rel_ids.values())
        marks = ",".join("?" * n)
        return (f"SELECT {', '.join(cols)} FROM {q(self.sobject.table)} AS {a}{self._joins_sql} "
                f"WHERE {a}.rowid IN ({marks})")

    def child_sql(self, ref: Field, n: int) -> str:
        """This (child) query's rows for ``n`` parent Ids, the parent Id last, in query order."""
        a = self._alias
        cols = [f"{a}.rowid", f"{a}.Id"] + [c.sql for c in self.select] + list(self._rel_ids.values())
        cols.append(f"{a}.{q(ref.name)}")
        marks = ",".join("?" * n)
        return (f"SELECT {', '.join(cols)} FROM {q(self.sobject.table)} AS {a}{self._joins_sql} "
                f"WHERE {self._where_sql} AND {a}.{q(ref.name)} IN ({marks}) ORDER BY {self._order_sql}")

    def make_builder(self, version: str) -> Callable[[tuple], dict]:
        """Return a function turning one ``page_sql`` row into a REST record dict.

        Subquery columns are left as ``None`` placeholders (in select order) for
        :meth:`attach_children` to fill.
        """
        obj_name = self.sobject.name
        base = f"/services/data/v{version}/sobjects/"
        n_sel = len(self.select)
        plan: list[tuple[tuple[str, ...], str, int, bool]] = []
        for kind, i in self.layout:
            if kind == "child":
                plan.append(((), self.children[i].name, -1, False))
            else:
                c = self.select[i]
                plan.append((c.path, c.field.name, i + 2, c.field.type == "boolean"))
        rel_index = {path: n_sel + 2 + k for k, path in enumerate(self._rel_ids)}
        rel_type = self._rel_types

        def build(row: tuple) -> dict:
            rid = row[1]
            rec: dict[str, Any] = {"attributes": {"type": obj_name, "url": f"{base}{obj_name}/{rid}"}}
            parents: dict[tuple[str, ...], dict | None] = {}
            for path, name, i, is_bool in plan:
                value = None if i < 0 else row[i]
                if is_bool and value is not None:
                    value = bool(value)
                if not path:
                    rec[name] = value
                    continue
                for k in range(1, len(path) + 1):
                    sub = path[:k]
                    if sub in parents:
                        continue
                    holder = rec if k == 1 else parents[sub[:-1]]
                    if holder is None:
                        parents[sub] = None
                        continue
                    pid = row[rel_index[sub]]
                    parents[sub] = None if pid is None else {
                        "attributes": {"type": rel_type[sub], "url": f"{base}{rel_type[sub]}/{pid}"}}
                    holder[sub[-1]] = parents[sub]
                target = parents[path]
                if target is not None:
                    target[name] = value
            return rec

        return build

    def attach_children(self, read: Callable[[str, list], list[tuple]], parent_ids: list[str],
                        records: list[dict], version: str) -> None:
        """Fill each subquery column of ``records`` (rows of ``parent_ids``) with its nested
        ``{totalSize, done, records}`` (``None`` when a parent has no such children)."""
        for child in self.children:
            sub = child.compiled
            grouped: dict[str, list[dict]] = {}
            if parent_ids:
                build = sub.make_builder(version)
                for row in read(sub.child_sql(child.ref, len(parent_ids)), [*sub.params, *parent_ids]):
                    grouped.setdefault(row[-1], []).append(build(row[:-1]))
            for pid, rec in zip(parent_ids, records, strict=True):
                rows = grouped.get(pid, [])[: sub._limit]
                rec[child.name] = {"totalSize": len(rows), "done": True, "records": rows} if rows else None


# The select pieces of an aggregate query: SQL for a grouping set, given its rolled-up group indexes.
def _grouping_flag(group: int, rolled: frozenset[int]) -> str:
    return "1" if group in rolled else "0"


def _always(sql: str, rolled: frozenset[int]) -> str:
    return sql


def _unless_rolled_up(group: int, sql: str, rolled: frozenset[int]) -> str:
    return "NULL" if group in rolled else sql


class _Compiler:
    def __init__(self, query: ast.Query, include_deleted: bool, alias: str = "t",
                 params: list[Any] | None = None, resolve: Resolver = get_object) -> None:
        self.query = query
        self.resolve_object = resolve
        self.text = query.text
        self.include_deleted = include_deleted
        obj = resolve(query.sobject)
        if obj is None:
            raise error_at(self.text, query.sobject_pos, "INVALID_TYPE", unknown_sobject_in_query(query.sobject))
        self.obj = obj
        self.alias = alias
        self.joins: dict[tuple[str, ...], _Join] = {}
        self.params: list[Any] = params if params is not None else []
        self._nested = 0  # semi-join subqueries so far (each gets its own table alias)
        self.in_having = False  # aggregates may appear in conditions only inside HAVING

    def fail(self, pos: int, code: str, message: str) -> ApiError:
        return error_at(self.text, pos, code, message)

    # -- field resolution ----------------------------------------------------
    def resolve(self, path: ast.FieldPath) -> Column:
        parts = list(path.parts)
        if len(parts) > 1 and parts[0].lower() == self.obj.name.lower() and self.obj.relationship(parts[0]) is None:
            parts = parts[1:]  # "Account.Name FROM Account" qualifies with the object itself
        if len(parts) - 1 > MAX_PATH_DEPTH:
            raise self.fail(path.pos, "INVALID_FIELD", unknown_relationship(parts[MAX_PATH_DEPTH]))
        obj, alias = self.obj, self.alias
        rel_path: tuple[str, ...] = ()
        for part in parts[:-1]:
            ref = obj.relationship(part)
            parent = self.resolve_object(ref.reference_to[0]) if ref else None
            if ref is None or parent is None:
                raise self.fail(path.pos, "INVALID_FIELD", unknown_relationship(part))
            rel_path = (*rel_path, ref.relationship_name or part)  # found by that name: never None
            join = self.joins.get(rel_path)
            if join is None:
                join = _Join(f"{self.alias}j{len(self.joins)}", parent, ref, alias)
                self.joins[rel_path] = join
            obj, alias = parent, join.alias
        f = obj.field(parts[-1])
        if f is None:
            raise self.fail(path.pos, "INVALID_FIELD", unknown_column(parts[-1], obj.name))
        nullable = bool(rel_path) or (f.nillable and not f.system)
        return Column(f"{alias}.{q(f.name)}", f, obj, rel_path, nullable)

    # -- WHERE -----------------------------------------------------------------
    def expr(self, node: ast.Expr) -> str:
        if isinstance(node, ast.BoolOp):
            return "(" + f" {node.op} ".join(self.expr(i) for i in node.items) + ")"
        if isinstance(node, ast.Not):
            return f"(NOT {self.expr(node.item)})"
        return self.comparison(node)

    def comparison(self, node: ast.Comparison) -> str:
        if isinstance(node.field, ast.Aggregate):
            if not self.in_having:
                raise self.fail(node.field.pos, "MALFORMED_QUERY",
                                "Aggregate functions are not allowed in the WHERE clause; use HAVING")
            col = self.aggregate_column(node.field)
        else:
            col = self.resolve(node.field)
        if isinstance(node.value, ast.Query):
            return self.semi_join(col, node)
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
        if not isinstance(lit.value, tuple):  # the parser gives a date literal (name, n)
            raise self.fail(lit.pos, "MALFORMED_QUERY", f"unexpected token: {lit.raw}")
        name, n = lit.value
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

    def semi_join(self, col: Column, node: ast.Comparison) -> str:
        """``Id IN (SELECT AccountId FROM Contact …)`` and its ``NOT IN`` anti-join."""
        sub: ast.Query = node.value  # type: ignore[assignment]
        if col.field.type not in ("id", "reference"):
            raise self.fail(node.pos, "INVALID_QUERY_FILTER_OPERATOR",
                            "Semi join and anti join subqueries can only filter on Id or reference fields")
        self._nested += 1
        inner = _Compiler(sub, False, alias=f"{self.alias}s{self._nested}", params=self.params,
                          resolve=self.resolve_object)
        if len(sub.items) != 1 or not isinstance(sub.items[0].expr, ast.FieldPath) or sub.group_by:
            raise self.fail(sub.pos, "MALFORMED_QUERY", "a semi join subquery must select exactly one Id field")
        picked = inner.resolve(sub.items[0].expr)
        if picked.field.type not in ("id", "reference"):
            raise self.fail(sub.items[0].expr.pos, "INVALID_FIELD",
                            "Semi join sub-selects are only allowed to select Id or reference fields")
        where = [f"{inner.alias}.IsDeleted = 0", f"{picked.sql} IS NOT NULL"]
        if sub.where is not None:
            where.append(inner.expr(sub.where))
        sql = (f"SELECT {picked.sql} FROM {q(inner.obj.table)} AS {inner.alias}{inner.joins_sql()} "
               f"WHERE {' AND '.join(where)}")
        if node.op == "IN":
            return f"({col.sql} IS NOT NULL AND {col.sql} IN ({sql}))"
        return f"({col.sql} IS NULL OR {col.sql} NOT IN ({sql}))"

    def joins_sql(self) -> str:
        return "".join(f" LEFT JOIN {q(j.parent.table)} AS {j.alias} ON {j.alias}.Id = {j.from_alias}.{q(j.ref.name)}"
                       for j in self.joins.values())

    # -- aggregates --------------------------------------------------------------
    def aggregate_column(self, agg: ast.Aggregate) -> Column:
        """The aggregate as a pseudo-column (SQL plus the type of its result)."""
        if agg.func == "GROUPING":
            raise self.fail(agg.pos, "MALFORMED_QUERY", "GROUPING() is allowed only in the SELECT list")
        if agg.arg is None:
            return Column("COUNT(*)", _INT_RESULT, self.obj, (), False)
        col = self.resolve(agg.arg)
        t = col.field.type
        long_text = t == "textarea" and col.field.length > 255
        if (agg.func in ("SUM", "AVG") and t not in NUMBER_TYPES) or (agg.func in ("MIN", "MAX") and t == "boolean") \
                or long_text:
            raise self.fail(agg.pos, "INVALID_FIELD",
                            f"field {col.field.name} does not support aggregate operator {agg.func}")
        sql = f"COUNT(DISTINCT {col.sql})" if agg.func == "COUNT_DISTINCT" else f"{agg.func}({col.sql})"
        result = {"COUNT": _INT_RESULT, "COUNT_DISTINCT": _INT_RESULT, "AVG": _DOUBLE_RESULT}.get(agg.func, col.field)
        return Column(sql, result, col.owner, col.path, agg.func not in ("COUNT", "COUNT_DISTINCT"))

    def compile_aggregate(self, where_sql: str) -> CompiledQuery:
        """``SELECT Industry, COUNT(Id) cnt FROM Account GROUP BY [ROLLUP(]Industry[)] HAVING …``."""
        qy = self.query
        groups = [self.resolve(p) for p in qy.group_by]
        group_index = {(c.path, c.field.name.lower()): i for i, c in enumerate(groups)}
        # Each select piece maps the rolled-up group indexes of a grouping set to SQL.
        pieces: list[Callable[[frozenset[int]], str]] = []
        names: list[str] = []
        booleans, meta = [], []
        expr_n = 0
        for item in qy.items:
            e = item.expr
            if isinstance(e, ast.Aggregate) and e.func == "GROUPING":
                col = self.resolve(e.arg)  # type: ignore[arg-type]
                gi = group_index.get((col.path, col.field.name.lower()))
                if gi is None or not qy.rollup:
                    raise self.fail(e.pos, "MALFORMED_QUERY",
                                    "GROUPING() needs a field of the GROUP BY ROLLUP clause")
                pieces.append(partial(_grouping_flag, gi))
                col = Column("", _INT_RESULT, self.obj, (), False)
            elif isinstance(e, ast.Aggregate):
                col = self.aggregate_column(e)
                pieces.append(partial(_always, col.sql))
            elif isinstance(e, ast.FieldPath):
                col = self.resolve(e)
                gi = group_index.get((col.path, col.field.name.lower()))
                if gi is None:
                    raise self.fail(e.pos, "MALFORMED_QUERY", f"Field must be grouped or aggregated: {col.field.name}")
                pieces.append(partial(_unless_rolled_up, gi, col.sql))
            else:
                raise self.fail(getattr(e, "pos", 0), "MALFORMED_QUERY",
                                "Nested queries and FIELDS() are not supported in aggregate queries")
            if isinstance(e, ast.Aggregate):
                name = item.alias or f"expr{expr_n}"
                expr_n += 0 if item.alias else 1
                meta.append(column_meta(name, e.text, col.field, aggregate=True))
            else:
                name = item.alias or col.field.name
                meta.append(column_meta(name, name, col.field))
            if name.lower() in {n.lower() for n in names}:
                raise self.fail(getattr(e, "pos", 0), "MALFORMED_QUERY", f"duplicate alias: {name}")
            names.append(name)
            booleans.append(col.field.type == "boolean")
        having = ""
        if qy.having is not None:
            self.in_having = True
            having = " HAVING " + self.expr(qy.having)
            self.in_having = False
        if qy.rollup and qy.order_by:
            raise self.fail(qy.order_by[0].field.pos, "MALFORMED_QUERY",
                            "ORDER BY with GROUP BY ROLLUP is not supported by the emulator")
        order = [self.order_sql(item, aggregate=True) for item in qy.order_by]
        base = f" FROM {q(self.obj.table)} AS {self.alias}{self.joins_sql()} WHERE {where_sql}"
        n = len(groups)
        sets = [frozenset(range(k, n)) for k in range(n, -1, -1)] if qy.rollup else [frozenset()]
        statements = []
        for rolled in sets:
            cols = [piece(rolled) for piece in pieces]
            cols += ["NULL" if i in rolled else c.sql for i, c in enumerate(groups)]
            kept = [c.sql for i, c in enumerate(groups) if i not in rolled]
            sql = f"SELECT {', '.join(cols)}{base}" + (" GROUP BY " + ", ".join(kept) if kept else "") + having
            if not qy.rollup:
                sql += (" ORDER BY " + ", ".join(order) if order else "")
                sql += f" LIMIT {qy.limit if qy.limit is not None else -1} OFFSET {qy.offset or 0}"
            statements.append((sql, rolled))
        window = (qy.limit, qy.offset or 0) if qy.rollup else None
        plan = AggregatePlan(statements, names, booleans, meta, n, window)
        return CompiledQuery(sobject=self.obj, count_only=False, id_sql="", params=self.params, count_sql="",
                             aggregate=plan, group_by=bool(groups))

    def order_sql(self, item: ast.OrderItem, aggregate: bool = False) -> str:
        if isinstance(item.field, ast.Aggregate):
            if not aggregate:
                raise self.fail(item.field.pos, "MALFORMED_QUERY", "Ordering by an aggregate needs an aggregate query")
            col = self.aggregate_column(item.field)
        else:
            col = self.resolve(item.field)
        if col.field.type == "textarea" and col.field.length > 255:
            raise self.fail(item.field.pos, "INVALID_FIELD",
                            f"field '{col.field.name}' can not be sorted in a query call")
        direction = " DESC" if item.descending else ""
        nulls = ""
        if item.nulls_last is not None and item.nulls_last != item.descending:
            nulls = " NULLS LAST" if item.nulls_last else " NULLS FIRST"
        return f"{col.sql}{direction}{nulls}"

    # -- select list -------------------------------------------------------------
    def expand_fields(self, macro: ast.FieldsMacro) -> list[ast.FieldPath]:
        """``FIELDS(STANDARD|CUSTOM|ALL)`` as plain paths; the unbounded ones need ``LIMIT`` <= 200."""
        if macro.kind != "STANDARD" and (self.query.limit is None or self.query.limit > MAX_FIELDS_LIMIT):
            raise self.fail(macro.pos, "MALFORMED_QUERY",
                            f"The SOQL FIELDS function must have a LIMIT of at most {MAX_FIELDS_LIMIT}")
        keep = {"STANDARD": lambda f: not f.custom, "CUSTOM": lambda f: f.custom, "ALL": lambda f: True}[macro.kind]
        return [ast.FieldPath((f.name,), macro.pos) for f in self.obj.fields if keep(f)]

    def child_query(self, sub: ast.Query) -> ChildQuery:
        if self.alias != "t":
            raise self.fail(sub.pos, "MALFORMED_QUERY", "Nested subqueries are only allowed one level deep")
        found = find_child_relationship(self.obj, sub.sobject)
        if found is None:
            raise self.fail(sub.sobject_pos, "INVALID_TYPE",
                            f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. "
                            "If you are attempting to use a custom relationship, be sure to append the '__r' "
                            "after the custom relationship name. Please reference your WSDL or the describe "
                            "call for the appropriate names.")
        child, ref = found
        compiled = _Compiler(replace(sub, sobject=child.name), False, alias="c").compile()
        if compiled.aggregate is not None or compiled.count_only:
            raise self.fail(sub.pos, "MALFORMED_QUERY", "Aggregate functions are not supported in nested queries")
        return ChildQuery(sub.sobject, ref, compiled)

    # -- whole query -----------------------------------------------------------
    def compile(self) -> CompiledQuery:
        qy = self.query
        a = self.alias
        if qy.offset is not None and qy.offset > MAX_OFFSET:
            raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        where = [] if self.include_deleted else [f"{a}.IsDeleted = 0"]
        if qy.where is not None:
            where.append(self.expr(qy.where))
        limit = f" LIMIT {qy.limit if qy.limit is not None else -1} OFFSET {qy.offset or 0}"
        if qy.count_only:
            group = " GROUP BY " + ", ".join(self.resolve(p).sql for p in qy.group_by) if qy.group_by else ""
            base = f"FROM {q(self.obj.table)} AS {a}{self.joins_sql()} WHERE {' AND '.join(where) or '1'}"
            return CompiledQuery(sobject=self.obj, count_only=True, id_sql="", params=self.params,
                                 count_sql=f"SELECT COUNT(*) FROM (SELECT 1 {base}{group}{limit})")
        for item in qy.items:
            if isinstance(item.expr, ast.Aggregate) and item.expr.arg is None:
                raise self.fail(item.expr.pos, "MALFORMED_QUERY", "COUNT() must be the only element in the SELECT list")
        if qy.group_by or qy.having is not None or any(isinstance(i.expr, ast.Aggregate) for i in qy.items):
            return self.compile_aggregate(" AND ".join(where) or "1")
        select: list[Column] = []
        children: list[ChildQuery] = []
        layout: list[tuple[str, int]] = []
        seen: set[str] = set()
        for item in qy.items:
            e = item.expr
            if isinstance(e, ast.Query):
                children.append(self.child_query(e))
                layout.append(("child", len(children) - 1))
                continue
            if item.alias is not None:
                raise self.fail(e.pos, "MALFORMED_QUERY", f"unexpected token: {item.alias}")
            if isinstance(e, ast.Aggregate):  # not reached: a query with one is compiled as an aggregate
                raise self.fail(e.pos, "MALFORMED_QUERY", f"unexpected token: {e.text}")
            from_macro = isinstance(e, ast.FieldsMacro)
            for p in self.expand_fields(e) if isinstance(e, ast.FieldsMacro) else [e]:
                col = self.resolve(p)
                key = f"{col.relationship or ''}.{col.field.name}".lower()
                if key in seen:
                    if from_macro:
                        continue
                    raise self.fail(p.pos, "MALFORMED_QUERY", f"duplicate field selected: {p.text}")
                seen.add(key)
                select.append(col)
                layout.append(("col", len(select) - 1))
        order = [self.order_sql(item) for item in qy.order_by] + [f"{a}.rowid"]
        where.extend(self._seek_hint(qy))
        joins_sql = self.joins_sql()
        where_sql = " AND ".join(where) or "1"
        base = f"FROM {q(self.obj.table)} AS {a}{joins_sql} WHERE {where_sql}"
        return CompiledQuery(
            sobject=self.obj, count_only=False,
            id_sql=f"SELECT {a}.rowid {base} ORDER BY {', '.join(order)}{limit}",
            params=self.params,
            count_sql=f"SELECT COUNT(*) FROM (SELECT 1 {base}{limit})",
            select=select, children=children, layout=layout, _alias=a, _joins_sql=joins_sql,
            _rel_ids={path: f"{j.alias}.Id" for path, j in self.joins.items()},
            _rel_types={path: j.parent.name for path, j in self.joins.items()},
            _order_sql=", ".join(order), _where_sql=where_sql, _limit=qy.limit,
        )

    # -- keyset seek hint --------------------------------------------------------
    def _seek_hint(self, qy: ast.Query) -> list[str]:
        """A redundant ``first_sort_key >= bound`` implied by WHERE, so SQLite seeks instead of scanning.

        The sync pattern ``F > X OR (F = X AND Id > Y) ORDER BY F, Id`` has no
        single range SQLite can see through the OR; every branch still implies
        ``F >= X``, and stating it lets the (F, Id) index start at X.
        """
        if qy.where is None or not qy.order_by or qy.order_by[0].descending:
            return []
        first = qy.order_by[0].field
        if not isinstance(first, ast.FieldPath):  # ordered by an aggregate: no index to seek in
            return []
        col = self.resolve(first)
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
            if node.value.kind in ("null", "dateliteral") or not isinstance(node.field, ast.FieldPath):
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


_INT_RESULT = Field("expr", "expr", "int", nillable=False)
_DOUBLE_RESULT = Field("expr", "expr", "double")
def compile_query(query: ast.Query, include_deleted: bool = False, resolve: Resolver = get_object) -> CompiledQuery:
    """Resolve names/types against the schema (``resolve``: object name -> SObject, the org's
    objects by default, the Tooling API's for ``/tooling/query``) and build SQL; raises ApiError."""
    return _Compiler(query, include_deleted, resolve=resolve).compile()
