"""What the conflict and error queue pages share: paging, the ids a bulk form selected,
where to go back to after an action, links to a record's timeline, and counts in messages."""
from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from connectors.models import ObjectMapping

PAGE_SIZE = 50


def list_filters(request: HttpRequest, names: tuple[str, ...], statuses: dict[str, Any]) -> tuple[dict[str, str], str]:
    """The list page's text filters from the query string, and its status filter (`open` unless
    the query names one of `statuses`)."""
    filters = {key: request.GET.get(key, "").strip() for key in names}
    status = request.GET.get("status", "open")
    return filters, status if status in statuses else "open"


def mapping_names() -> QuerySet:
    """Every mapping's name, for the lists' mapping filter."""
    return ObjectMapping.objects.order_by("name").values_list("name", flat=True)


def page_of(request: HttpRequest, rows: QuerySet) -> Page:
    """The requested page of `rows` (the last one for a number past the end, the first for garbage)."""
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for page links that keep them."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def selected_ids(request: HttpRequest) -> list[int]:
    """The ids ticked in a bulk form (checkboxes named `ids`); anything not a number is ignored."""
    return [int(value) for value in request.POST.getlist("ids") if value.isdigit()]


def back_to(request: HttpRequest, fallback: str) -> str:
    """The page the form came from (its `next` field) when it is on this site, else `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


def timeline_url(mapping: str | None, key: str) -> str | None:
    """The record's timeline page, or None when there is no record key or no such page yet."""
    if not mapping or not key:
        return None
    try:
        return reverse("record-timeline", kwargs={"mapping": mapping, "key": key})
    except NoReverseMatch:
        return None


def plural(count: int, noun: str) -> str:
    """`count` and `noun`, with an `s` unless the count is one ("1 error", "3 conflicts")."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
