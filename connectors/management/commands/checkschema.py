"""python manage.py checkschema [--mapping NAME ...]: compare mappings with Salesforce once."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connectors.mappings import schema_drift
from connectors.models import ObjectMapping


class Command(BaseCommand):
    help = "Compare each enabled mapping with Salesforce's describe and record schema drift (what schema-watch does)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--mapping", action="append", help="Check only these mappings (by name).")

    def handle(self, *args: Any, **options: Any) -> None:
        mappings = ObjectMapping.objects.filter(enabled=True).select_related("org")
        if options["mapping"]:
            mappings = mappings.filter(name__in=options["mapping"])
        if not mappings:
            raise CommandError("no enabled mapping to check")
        report = schema_drift.check_all(mappings)
        for name, rows in report.open.items():
            detail = "; ".join(str(row).removeprefix(f"{name}: ") for row in rows) or "matches Salesforce"
            self.stdout.write(f"{name}: {detail}")
        for name, reason in report.failures.items():
            self.stderr.write(f"{name}: not checked: {reason}")
        if report.failures:
            raise CommandError(f"{len(report.failures)} mapping(s) could not be checked")
