"""SOQL syntax tree (only what the emulator supports)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldPath:
    """``Name`` or ``Account.Name``; ``pos`` points at the first segment."""

    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    """kind: string, number, boolean, null, date, datetime or dateliteral (TODAY, LAST_N_DAYS:n)."""

    kind: str
    value: object
    pos: int
    raw: str = ""


@dataclass(frozen=True)
class Comparison:
    """``field op value``; op is one of = != < > <= >= LIKE IN NOTIN (value is a tuple for IN)."""

    field: FieldPath
    op: str
    value: Literal | tuple[Literal, ...]
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
    field: FieldPath
    descending: bool = False
    nulls_last: bool | None = None  # None: SOQL default (ASC nulls first, DESC nulls last)


@dataclass
class Query:
    sobject: str
    sobject_pos: int
    fields: list[FieldPath] = field(default_factory=list)
    count_only: bool = False
    where: Expr | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    text: str = ""
