"""SOQL syntax tree (only what the emulator supports)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldPath:
    """``Name`` or ``Account.Owner.Name``; ``pos`` points at the first segment."""

    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Aggregate:
    """``COUNT()``, ``COUNT(Id)``, ``COUNT_DISTINCT(f)``, ``SUM``/``AVG``/``MIN``/``MAX(f)``, ``GROUPING(f)``."""

    func: str  # upper case
    arg: FieldPath | None  # None only for COUNT()
    pos: int
    text: str  # as written, e.g. "COUNT(Id)": the column's displayName


@dataclass(frozen=True)
class FieldsMacro:
    """``FIELDS(ALL | STANDARD | CUSTOM)``."""

    kind: str
    pos: int


@dataclass(frozen=True)
class SelectItem:
    """One select-list entry: a field, an aggregate (optionally aliased), ``FIELDS()`` or a subquery."""

    expr: FieldPath | Aggregate | FieldsMacro | Query
    alias: str | None = None


@dataclass(frozen=True)
class Literal:
    """kind: string, number, boolean, null, date, datetime or dateliteral (TODAY, LAST_N_DAYS:n)."""

    kind: str
    value: object
    pos: int
    raw: str = ""


@dataclass(frozen=True)
class Comparison:
    """``field op value``; op is one of = != < > <= >= LIKE IN NOTIN.

    ``value`` is a tuple for a literal IN list, a :class:`Query` for a semi-/anti-join;
    ``field`` is an :class:`Aggregate` in HAVING.
    """

    field: FieldPath | Aggregate
    op: str
    value: Literal | tuple[Literal, ...] | Query
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND / OR
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldPath | Aggregate
    descending: bool = False
    nulls_last: bool | None = None  # None: SOQL default (ASC nulls first, DESC nulls last)


@dataclass(eq=False)
class Query:
    sobject: str
    sobject_pos: int
    items: list[SelectItem] = field(default_factory=list)
    where: Expr | None = None
    group_by: list[FieldPath] = field(default_factory=list)
    rollup: bool = False  # GROUP BY ROLLUP(…)
    having: Expr | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    text: str = ""
    pos: int = 0  # of SELECT (for subqueries)

    @property
    def count_only(self) -> bool:
        """``SELECT COUNT() FROM …``: the answer is ``totalSize`` alone."""
        return (len(self.items) == 1 and isinstance(self.items[0].expr, Aggregate)
                and self.items[0].expr.arg is None)

    @property
    def fields(self) -> list[FieldPath]:
        return [i.expr for i in self.items if isinstance(i.expr, FieldPath)]
