"""python manage.py syncerrors list|show|retry|discard [ids] [--all] [--mapping NAME]"""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connectors.management.queue_commands import chosen, write_list
from connectors.models import SyncError
from connectors.operations import error_queue


class Command(BaseCommand):
    help = "List, inspect, retry or discard the changes that could not be applied."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["list", "show", "retry", "discard"])
        parser.add_argument("ids", nargs="*", type=int)
        parser.add_argument("--all", action="store_true", help="Every open error (of --mapping, if given).")
        parser.add_argument("--mapping")
        parser.add_argument("--stage", choices=[s.value for s in SyncError.Stage])

    def handle(self, *args: Any, action: str, ids: list[int], **options: Any) -> None:
        errors = error_queue.open_errors(options["mapping"], options["stage"])
        if action == "list":
            write_list(self.stdout, errors, _line)
            return
        selected = chosen(errors, ids, options["all"], "errors")
        if action == "show":
            for e in selected:
                self.stdout.write(f"error {e.pk} [{e.status}] {e.stage} {e.code}\n  record: {e.record_key}\n"
                                  f"  from: {e.topic}[{e.partition}]@{e.offset}\n  message: {e.message}\n"
                                  f"  payload: {e.payload}")
        elif action == "retry":
            try:
                self.stdout.write(f"retried {error_queue.retry(selected)}")
            except error_queue.NotRetryable as exc:
                raise CommandError(str(exc)) from None
        else:
            self.stdout.write(f"discarded {error_queue.discard(selected)}")


def _line(e: SyncError) -> str:
    return (f"{e.pk:>6}  {e.created_at:%Y-%m-%d %H:%M:%S}  {e.mapping.name if e.mapping else '-':<14}"
            f" {e.stage:<16} {e.code:<34} {e.record_key:<20} {e.message[:80]}")
