"""python manage.py reconcile <mapping> [--dry-run] [--merge-duplicates]"""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from connectors.models import ObjectMapping
from connectors.operations.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Compare every Salesforce record of a mapping with its MongoDB document (by a hash of the writable mapped "
        "fields) and repair what differs: missing documents are created (keyed as mongo-apply keys them), documents "
        "of records deleted or purged in Salesforce are removed or marked (the mapping's delete mode), drifted "
        "values follow the mapping's conflict policy (manual: one open conflict per record; one way, the source "
        "side wins), documents born in MongoDB that never reached Salesforce are created there (two-way and "
        "MongoDB-to-Salesforce mappings). Documents that share one Salesforce record are "
        "reported. Safe while the workers run."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("mapping", help="the mapping's name, as shown in the admin and the console")
        parser.add_argument("--dry-run", action="store_true",
                            help="Only report what would be done: no document, conflict or Salesforce record is "
                                 "written (Salesforce is read, which counts as API usage).")
        parser.add_argument("--merge-duplicates", action="store_true",
                            help="Remove all but one document of each Salesforce record held by several (the one "
                                 "mongo-apply writes to stays); the Salesforce record is kept, not deleted.")

    def handle(self, *args: Any, mapping: str, dry_run: bool, merge_duplicates: bool, **options: Any) -> None:
        try:
            row = ObjectMapping.objects.select_related("org", "mongo").get(name=mapping)
        except ObjectMapping.DoesNotExist:
            raise CommandError(f"no mapping named {mapping!r}") from None
        report = reconcile(row, progress=lambda items, total: tqdm(items, total=total, desc=f"reconcile {mapping}",
                                                                   unit="doc"),
                           dry_run=dry_run, merge_duplicates=merge_duplicates)
        verb = "would change (dry run, nothing written)" if dry_run else "changed"
        found = {k: v for k, v in sorted(report.changes.items()) if v}
        self.stdout.write(f"{mapping}: compared {report.compared} documents; {verb}: "
                          + (", ".join(f"{k} {v}" for k, v in found.items()) or "nothing"))
        for line in report.details:
            self.stdout.write(f"  {line}")
