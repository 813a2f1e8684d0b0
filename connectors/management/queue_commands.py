"""What the `conflicts` and `syncerrors` commands share: listing the open rows and choosing
the rows an action applies to."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.management.base import CommandError, OutputWrapper
from django.db.models import Model, QuerySet

Row = TypeVar("Row", bound=Model)


def write_list(stdout: OutputWrapper, open_rows: QuerySet[Row], line: Callable[[Row], str]) -> None:
    """One line per open row, then how many are open."""
    rows = list(open_rows)
    for row in rows:
        stdout.write(line(row))
    stdout.write(f"{len(rows)} open")


def chosen(open_rows: QuerySet[Row], ids: list[int], everything: bool, noun: str) -> list[Row]:
    """Every open row with --all, else the rows named by id (whatever their status; the action
    says what it does with those not open). Raises CommandError when that is none."""
    by_id = open_rows.model._default_manager.select_related("mapping").filter(pk__in=ids)
    found = list(open_rows if everything else by_id)
    if not found:
        raise CommandError(f"name the {noun} by id, or pass --all")
    return found
