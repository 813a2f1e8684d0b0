"""python manage.py reconcile <mapping> [--dry-run]"""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from connectors.models import ObjectMapping
from connectors.reconcile import reconcile


class Command(BaseCommand):
    help = "Compare both sides of a mapping by a hash of the mapped fields and repair drift."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("mapping")
        parser.add_argument("--dry-run", action="store_true", help="Report only; change nothing.")

    def handle(self, *args: Any, mapping: str, dry_run: bool, **options: Any) -> None:
        try:
            row = ObjectMapping.objects.select_related("org", "mongo").get(name=mapping)
        except ObjectMapping.DoesNotExist:
            raise CommandError(f"no mapping named {mapping!r}") from None
        report = reconcile(row, progress=lambda items, total: tqdm(items, total=total, desc=f"reconcile {mapping}",
                                                                   unit="doc"), dry_run=dry_run)
        verb = "would change" if dry_run else "changed"
        self.stdout.write(f"{mapping}: compared {report.compared} documents; {verb}: "
                          + (", ".join(f"{k} {v}" for k, v in sorted(report.changes.items())) or "nothing"))
        for line in report.details:
            self.stdout.write(f"  {line}")
