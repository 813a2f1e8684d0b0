"""Template filters for the console's ways of writing moments (dashboard.formatting)."""
from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from connectors.operations.metrics import source_time
from dashboard import formatting

register = template.Library()


@register.filter
def utc(when: datetime | None) -> str:
    """`2026-11-30 19:03:28 UTC`, or "—" for no moment."""
    return formatting.utc_text(when) if when else "—"


@register.filter
def ago(when: datetime | None) -> str:
    """`12 s ago` (from now), or "" for no moment."""
    return formatting.ago(when, timezone.now()) if when else ""


@register.filter
def source_moment(version: str) -> datetime | None:
    """When a timeline line's source version ("cluster_time=...", "system_modstamp=...") was."""
    return source_time(version) if version else None
