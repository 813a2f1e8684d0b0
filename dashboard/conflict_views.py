"""Console pages for the conflict queue: list, detail with a per-field choice, bulk resolve by
policy. Viewers read; actions are POSTs (CSRF-checked) for operators; resolving goes through
connectors.operations.conflict_queue, which writes to both sides through the normal pipeline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from connectors.models import AuditEntry, Conflict
from connectors.operations import ServiceUnavailable, conflict_queue
from connectors.operations.conflict_queue import ResolutionError
from connectors.operations.conflict_records import RecordNow, applied_state, mapped_fields, record_now
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

POLICY_LABELS = {"salesforce_wins": "Salesforce wins", "mongodb_wins": "MongoDB wins",
                 "newest_wins": "Newest change wins"}
STATUS_FILTERS = {"open": Conflict.Status.OPEN, "resolved": Conflict.Status.RESOLVED, "all": None}
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "1"}, {"false", "no", "0"}
CONSOLE = AuditEntry.Via.CONSOLE


def record_key(conflict: Conflict) -> str:
    return conflict.salesforce_id or conflict.mongo_id


@console_access
def conflict_list(request: HttpRequest) -> HttpResponse:
    """Conflicts filtered by mapping, status, disputed field and record id, a page at a time."""
    filters, status = list_filters(request, ("mapping", "field", "q"), STATUS_FILTERS)
    scope = Conflict.objects.select_related("mapping")
    if filters["mapping"]:
        scope = scope.filter(mapping__name=filters["mapping"])
    rows = filtered(scope, STATUS_FILTERS[status], filters["field"], filters["q"])
    page = page_of(request, rows)
    return render(request, "dashboard/conflicts/list.html", {
        "page": page, "filters": filters, "status": status, "query": query_without_page(request),
        "mappings": mapping_names(),
        "open_count": scope.filter(status=Conflict.Status.OPEN).count(),
        "resolved_count": scope.filter(status=Conflict.Status.RESOLVED).count(),
        "policies": POLICY_LABELS,
    })


def filtered(rows: QuerySet[Conflict], status: str | None, field: str, text: str) -> QuerySet[Conflict]:
    if status:
        rows = rows.filter(status=status)
    if field:
        # `fields` is a JSON list of names; matching the quoted name works on SQLite and PostgreSQL alike.
        rows = rows.filter(fields__icontains=f'"{field}"')
    if text:
        rows = rows.filter(Q(salesforce_id__icontains=text) | Q(mongo_id__icontains=text))
    return rows


@console_access
@require_POST
def conflict_bulk_resolve(request: HttpRequest) -> HttpResponse:
    """Resolve the ticked conflicts by one policy; a message says how many, and why not the rest."""
    back = HttpResponseRedirect(back_to(request, reverse("conflicts")))
    ids = selected_ids(request)
    policy = request.POST.get("policy", "")
    if not ids:
        messages.warning(request, "Nothing selected: tick the conflicts to resolve first.")
        return back
    if policy not in POLICY_LABELS:
        messages.error(request, f"Choose a policy to resolve by ({', '.join(POLICY_LABELS.values())}).")
        return back
    conflicts = list(Conflict.objects.select_related("mapping").filter(pk__in=ids).order_by("created_at"))
    try:
        resolved, skipped = audited_actions.resolve_by_policy(request.user, CONSOLE, conflicts, policy)
    except ServiceUnavailable as exc:
        messages.error(request, f"Stopped: {exc}. Conflicts resolved before this stay resolved.")
        return back
    label = POLICY_LABELS[policy]
    if resolved:
        messages.success(request, f"Resolved {plural(resolved, 'conflict')} by “{label}”; the values are on "
                                  f"their way to both sides.")
    for conflict_id, reason in skipped.items():
        messages.warning(request, f"Conflict {conflict_id} not resolved: {reason}.")
    return back


@console_access
@require_http_methods(["GET", "POST"])
def conflict_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One conflict, every mapped field side by side; POST resolves it from the per-field choices."""
    conflict = get_object_or_404(Conflict.objects.select_related("mapping"), pk=pk)
    status = 200
    if request.method == "POST":
        try:
            take, values = posted_resolution(conflict, request.POST)
            audited_actions.resolve(request.user, CONSOLE, conflict, take, values)
        except ResolutionError as exc:
            messages.error(request, f"Not resolved: {exc}.")
            status = 400
        except ServiceUnavailable as exc:
            messages.error(request, f"Not resolved: {exc}.")
            status = 503
        else:
            messages.success(request, f"Conflict {conflict.pk} resolved: the chosen values are written to MongoDB "
                                      f"and travel on to Salesforce through the sync.")
            return HttpResponseRedirect(reverse("conflict-detail", args=[conflict.pk]))
    now = record_now(conflict)
    return render(request, "dashboard/conflicts/detail.html", {
        "conflict": conflict,
        "record_key": record_key(conflict),
        "rows": field_rows(conflict, now, request.POST if request.method == "POST" else None),
        "unread": now.unread,
        "applied": applied_state(conflict, now) if conflict.status == Conflict.Status.RESOLVED else None,
        "waiting": conflict.waiting.count(),
        "timeline_url": timeline_url(conflict.mapping.name, record_key(conflict)),
    }, status=status)


@dataclass
class FieldRow:
    """One mapped field on the detail page; `choice`/`edited` keep what a failed POST sent."""

    name: str
    mongo_field: str
    disputed: bool
    base: Any
    salesforce: Any
    mongodb: Any
    choice: str = ""
    edited: str = ""


def field_rows(conflict: Conflict, now: RecordNow, posted: Any) -> list[FieldRow]:
    """Disputed fields from the conflict's snapshot; the others from the current document, where
    both sides agree (merged), with the last synced value as their base."""
    current = now.values or {}
    mongo_names = {f.name: f.mongo_field for f in mapped_fields(conflict.mapping)}
    # Without the document, only the conflict's own snapshot is known.
    names = [n for n in conflict.fields if n not in mongo_names or now.values is None]
    names += [n for n in mongo_names if now.values is not None]
    rows = []
    for name in names:
        if name in conflict.fields:
            rows.append(FieldRow(
                name, mongo_names.get(name, ""), True, conflict.base_values.get(name),
                conflict.salesforce_values.get(name), conflict.mongo_values.get(name),
                choice=posted.get(f"choice-{name}", "") if posted else "",
                edited=posted.get(f"value-{name}", "") if posted else "",
            ))
        else:
            value = current.get(name)
            rows.append(FieldRow(name, mongo_names[name], False, now.synced.get(name), value, value))
    return rows


def posted_resolution(conflict: Conflict, post: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Per disputed field, the side taken or the value typed. A field left unanswered is left out,
    so that resolve() names it."""
    types = {f.name: f.sf_type for f in mapped_fields(conflict.mapping)}
    take: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in conflict.fields:
        choice = post.get(f"choice-{name}", "")
        if choice in conflict_queue.SIDES:
            take[name] = choice
        elif choice == "edit":
            values[name] = typed_value(name, types.get(name, "string"), post.get(f"value-{name}", ""))
    return take, values


def typed_value(name: str, sf_type: str, text: str) -> Any:
    """A value typed into the form: empty clears the field; a checkbox field takes true or false."""
    if text == "":
        return None
    if sf_type == "boolean":
        word = text.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ResolutionError(f"{name} is true or false, not {text!r}")
        return word in TRUE_WORDS
    return text
