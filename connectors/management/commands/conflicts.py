"""python manage.py conflicts list|show|resolve ..."""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connectors.management.queue_commands import chosen, write_list
from connectors.models import Conflict
from connectors.operations import conflict_queue


class Command(BaseCommand):
    help = "List and resolve records changed on both sides."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["list", "show", "resolve"])
        parser.add_argument("ids", nargs="*", type=int)
        parser.add_argument("--mapping")
        parser.add_argument("--take", choices=conflict_queue.SIDES, help="Every disputed field takes this side.")
        parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                            help="Give a field's value outright (JSON values allowed).")
        parser.add_argument("--all", action="store_true")

    def handle(self, *args: Any, action: str, ids: list[int], **options: Any) -> None:
        open_ones = conflict_queue.open_conflicts(options["mapping"])
        if action == "list":
            write_list(self.stdout, open_ones, _line)
            return
        conflicts = chosen(open_ones, ids, options["all"], "conflicts")
        if action == "show":
            for c in conflicts:
                self.stdout.write(f"conflict {c.pk} [{c.status}] {c.mapping.name} {c.salesforce_id} / {c.mongo_id}")
                for name in c.fields:
                    self.stdout.write(f"  {name}: base={c.base_values.get(name)!r} salesforce="
                                      f"{c.salesforce_values.get(name)!r} mongodb={c.mongo_values.get(name)!r}")
            return
        values = dict(_parse_assignment(a) for a in options["set"])
        for c in conflicts:
            take = {name: options["take"] for name in c.fields} if options["take"] else None
            try:
                conflict_queue.resolve(c, take=take, values=values or None, by="manage.py conflicts")
            except conflict_queue.ResolutionError as exc:
                raise CommandError(f"conflict {c.pk}: {exc}") from None
            self.stdout.write(f"resolved {c.pk}")


def _line(c: Conflict) -> str:
    return (f"{c.pk:>6}  {c.created_at:%Y-%m-%d %H:%M:%S}  {c.mapping.name:<14} "
            f"{c.salesforce_id or c.mongo_id:<20} {', '.join(c.fields)}")


def _parse_assignment(text: str) -> tuple[str, Any]:
    name, _, raw = text.partition("=")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw
