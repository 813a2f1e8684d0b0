"""Console pages for the error queue: what could not be applied, with the code and message
Salesforce or MongoDB gave, the payload, and retry / discard one or many. Viewers read; actions
are operators' POSTs (CSRF-checked) through connectors.operations.error_queue; a message says what each did."""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from connectors.models import AuditEntry, SyncError
from connectors.operations import ServiceUnavailable
from connectors.operations.error_queue import NotRetryable
from dashboard import audited_actions
from dashboard.access import console_access
from dashboard.queue_pages import (
    back_to,
    list_filters,
    mapping_names,
    page_of,
    plural,
    query_without_page,
    selected_ids,
    timeline_url,
)

STATUS_FILTERS = {"open": SyncError.Status.OPEN, "retried": SyncError.Status.RETRIED,
                  "discarded": SyncError.Status.DISCARDED, "all": None}


def pretty_payload(payload: str) -> str:
    """The payload as indented JSON, or as received when it is not JSON (that may be the error)."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return payload


@dataclass
class ErrorRow:
    """An error with what the templates show beside its stored fields."""

    error: SyncError
    payload: str
    timeline_url: str | None


def error_row(error: SyncError) -> ErrorRow:
    mapping = error.mapping.name if error.mapping else None
    return ErrorRow(error, pretty_payload(error.payload), timeline_url(mapping, error.record_key))


@console_access
def error_list(request: HttpRequest) -> HttpResponse:
    """Errors filtered by mapping, stage, code and status (open by default), a page at a time."""
    filters, status = list_filters(request, ("mapping", "stage", "code"), STATUS_FILTERS)
    rows = SyncError.objects.select_related("mapping")
    if filters["mapping"]:
        rows = rows.filter(mapping__name=filters["mapping"])
    if filters["stage"]:
        rows = rows.filter(stage=filters["stage"])
    if filters["code"]:
        rows = rows.filter(code=filters["code"])
    if STATUS_FILTERS[status]:
        rows = rows.filter(status=STATUS_FILTERS[status])
    page = page_of(request, rows)
    return render(request, "dashboard/errors/list.html", {
        "page": page, "rows": [error_row(e) for e in page], "filters": filters, "status": status,
        "query": query_without_page(request),
        "mappings": mapping_names(),
        "stages": SyncError.Stage.choices,
        "codes": SyncError.objects.exclude(code="").values_list("code", flat=True).order_by("code").distinct(),
        "open_count": SyncError.objects.filter(status=SyncError.Status.OPEN).count(),
    })


@console_access
def error_detail(request: HttpRequest, pk: int) -> HttpResponse:
    error = get_object_or_404(SyncError.objects.select_related("mapping"), pk=pk)
    return render(request, "dashboard/errors/detail.html", {"row": error_row(error), "error": error})


@console_access
@require_POST
def error_retry(request: HttpRequest, pk: int) -> HttpResponse:
    error = get_object_or_404(SyncError.objects.select_related("mapping"), pk=pk)
    retry(request, [error])
    return HttpResponseRedirect(back_to(request, reverse("error-detail", args=[pk])))


@console_access
@require_POST
def error_discard(request: HttpRequest, pk: int) -> HttpResponse:
    error = get_object_or_404(SyncError, pk=pk)
    discard(request, [error])
    return HttpResponseRedirect(back_to(request, reverse("error-detail", args=[pk])))


@console_access
@require_POST
def error_bulk(request: HttpRequest) -> HttpResponse:
    """Retry or discard the ticked errors (`action` is retry or discard)."""
    ids = selected_ids(request)
    action = request.POST.get("action", "")
    if not ids:
        messages.warning(request, "Nothing selected: tick the errors first.")
    elif action not in ("retry", "discard"):
        messages.error(request, f"Unknown action {action!r}: retry or discard.")
    else:
        errors = list(SyncError.objects.select_related("mapping").filter(pk__in=ids).order_by("created_at"))
        (retry if action == "retry" else discard)(request, errors)
    return HttpResponseRedirect(back_to(request, reverse("errors")))


def retry(request: HttpRequest, errors: list[SyncError]) -> None:
    """Send the open ones back to their topics and say how many went (and why none did)."""
    try:
        sent = audited_actions.retry(request.user, AuditEntry.Via.CONSOLE, errors)
    except NotRetryable as exc:
        messages.error(request, f"Nothing retried: {exc}.")
        return
    except ServiceUnavailable as exc:
        messages.error(request, f"Nothing retried: {exc}.")
        return
    if sent:
        topics = ", ".join(sorted({e.topic for e in errors if e.status == SyncError.Status.OPEN}))
        messages.success(request, f"Retried {plural(sent, 'error')}: sent back to {topics}, to be applied again.")
    else:
        messages.warning(request, "Nothing retried: only open errors can be retried.")
    skipped = len(errors) - sent
    if sent and skipped:
        messages.warning(request, f"{plural(skipped, 'error')} skipped: not open.")


def discard(request: HttpRequest, errors: list[SyncError]) -> None:
    discarded = audited_actions.discard(request.user, AuditEntry.Via.CONSOLE, errors)
    if discarded:
        messages.success(request, f"Discarded {plural(discarded, 'error')}; the changes will not be applied.")
    else:
        messages.warning(request, "Nothing discarded: only open errors can be discarded.")
    if discarded and len(errors) > discarded:
        messages.warning(request, f"{plural(len(errors) - discarded, 'error')} skipped: not open.")
