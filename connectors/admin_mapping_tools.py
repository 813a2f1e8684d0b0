"""The object mapping admin's tools: import fields from Salesforce, generate and apply the MongoDB
schema, and show / accept schema drift. Pages are ModelAdmin views (see `MappingToolsMixin.get_urls`)."""
from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from connectors.mappings import mongo_schema, schema_drift
from connectors.mappings.describe_cache import DescribeUnavailable, describe_object
from connectors.mappings.mapping_builder import ImportRow, add_field_mappings, import_rows, taken_mongo_names
from connectors.models import FieldMapping, ObjectMapping, SchemaDrift


class SchemaDriftFilter(admin.SimpleListFilter):
    title = "schema drift"
    parameter_name = "schema_drift"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open drift"), ("none", "Matches Salesforce")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # A subquery, not a join: a join would multiply the rows the drift count is taken over.
        with_drift = Exists(SchemaDrift.objects.filter(mapping=OuterRef("pk"), accepted=False))
        if self.value() == "open":
            return queryset.filter(with_drift)
        if self.value() == "none":
            return queryset.exclude(with_drift)
        return queryset


@admin.action(description="Accept schema changes")
def accept_schema_changes(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    drift = schema_drift.open_drift().filter(mapping__in=queryset)
    if not drift:
        modeladmin.message_user(request, "No open schema drift on the selected mappings.", messages.INFO)
        return
    try:
        done = schema_drift.accept(drift)
    except DescribeUnavailable as exc:
        modeladmin.message_user(request, f"Schema changes not accepted: {exc}", messages.ERROR)
        return
    modeladmin.message_user(request, f"Schema changes accepted: {done}.", messages.SUCCESS)


@admin.action(description="Check schema against Salesforce now")
def check_schema_now(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    report = schema_drift.check_all(queryset.select_related("org"))
    for name, rows in report.open.items():
        modeladmin.message_user(request, f"{name}: {len(rows)} open schema change(s)" if rows
                                else f"{name}: matches Salesforce", messages.WARNING if rows else messages.SUCCESS)
    for name, reason in report.failures.items():
        modeladmin.message_user(request, f"{name}: not checked: {reason}", messages.ERROR)


class MappingToolsMixin:
    """For ObjectMappingAdmin: the drift column and banner, and the import and schema pages."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(  # type: ignore[misc]
            open_drift_count=Count("schema_drift", filter=Q(schema_drift__accepted=False)))

    @admin.display(description="schema drift", ordering="open_drift_count")
    def schema_drift(self, mapping: ObjectMapping) -> str:
        count = getattr(mapping, "open_drift_count", None)
        if count is None:
            count = schema_drift.open_drift(mapping).count()
        return f"{count} open" if count else "—"

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        info = f"{ObjectMapping._meta.app_label}_{ObjectMapping._meta.model_name}"
        return [
            path("<path:object_id>/import-fields/", wrap(self.import_fields_view), name=f"{info}_import_fields"),
            path("<path:object_id>/mongo-schema/", wrap(self.mongo_schema_view), name=f"{info}_mongo_schema"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        mapping_id = unquote(object_id)
        drift = list(schema_drift.open_drift().filter(mapping_id=int(mapping_id))) if mapping_id.isdigit() else []
        return super().change_view(request, object_id, form_url,  # type: ignore[misc]
                                   {**(extra_context or {}), "open_drift": drift})

    # -- shared by the tool pages ------------------------------------------------------------
    def _mapping_or_deny(self, request: HttpRequest, object_id: str) -> ObjectMapping | None:
        mapping = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if mapping is not None and not self.has_change_permission(request, mapping):  # type: ignore[attr-defined]
            raise PermissionDenied
        return mapping

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
            request, ObjectMapping._meta, object_id)

    def _change_url(self, mapping: ObjectMapping) -> str:
        return reverse("admin:connectors_objectmapping_change", args=[mapping.pk])

    def _page(self, request: HttpRequest, mapping: ObjectMapping, template: str, title: str,
              **context: Any) -> TemplateResponse:
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": ObjectMapping._meta, "original": mapping, "mapping": mapping, "title": title,
            "change_url": self._change_url(mapping), **context,
        })

    # -- Import from Salesforce ---------------------------------------------------------------
    def import_fields_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        mapping = self._mapping_or_deny(request, object_id)
        if mapping is None:
            return self._missing(request, object_id)
        try:
            # A person opening the page wants what Salesforce has now, not what was cached.
            describe = describe_object(mapping.org, mapping.sf_object, fresh=request.method == "GET")
        except DescribeUnavailable as exc:
            messages.error(request, f"Could not list the fields of {mapping.sf_object}: {exc}")
            return HttpResponseRedirect(self._change_url(mapping))
        rows = import_rows(mapping, describe)
        errors: list[str] = []
        if request.method == "POST":
            chosen, errors = _chosen_fields(request, mapping, rows)
            if chosen and not errors:
                with transaction.atomic():
                    created = add_field_mappings(mapping, describe, chosen)
                messages.success(request, f"Created {len(created)} field mapping(s) for {mapping.sf_object}: "
                                          f"{', '.join(f.sf_field for f in created)}.")
                return HttpResponseRedirect(self._change_url(mapping))
            if not chosen and not errors:
                errors.append("Choose at least one field to import.")
        ticked = set(request.POST.getlist("import"))
        labels = dict(FieldMapping.Conversion.choices)
        entries = [{
            "row": row,
            "checked": row.name in ticked,
            "mongo_field": request.POST.get(f"mongo-{row.name}", row.suggested_mongo_field),
            "conversion": labels[row.conversion] if row.conversion else "none (JSON value as is)",
            "bson_type": " or ".join(mongo_schema.BSON_TYPES[row.conversion]),
        } for row in rows]
        return self._page(request, mapping, "admin/connectors/objectmapping/import_fields.html",
                          f"Import fields of {mapping.sf_object} from Salesforce", entries=entries, errors=errors,
                          selectable=sum(row.selectable for row in rows))

    # -- Generate MongoDB schema --------------------------------------------------------------
    def mongo_schema_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        mapping = self._mapping_or_deny(request, object_id)
        if mapping is None:
            return self._missing(request, object_id)
        try:
            describe = describe_object(mapping.org, mapping.sf_object)
        except DescribeUnavailable as exc:
            messages.error(request, f"Could not build the MongoDB schema: {exc}")
            return HttpResponseRedirect(self._change_url(mapping))
        plan = mongo_schema.plan(mapping, describe)
        if request.method == "POST":
            level, line = _apply_schema(mapping, plan)
            messages.add_message(request, level, line)
            return HttpResponseRedirect(request.path)
        return self._page(request, mapping, "admin/connectors/objectmapping/mongo_schema.html",
                          f"MongoDB schema for {mapping.collection}",
                          plan=plan, validator_json=json.dumps(plan.validator, indent=2))


def _chosen_fields(request: HttpRequest, mapping: ObjectMapping, rows: list[ImportRow]
                   ) -> tuple[dict[str, str], list[str]]:
    """The ticked fields with their MongoDB names, and what is wrong with them (one line each)."""
    by_name = {row.name: row for row in rows}
    taken = taken_mongo_names(mapping)
    chosen: dict[str, str] = {}
    errors: list[str] = []
    for name in request.POST.getlist("import"):
        row = by_name.get(name)
        if row is None or not row.selectable:
            errors.append(f"{name}: not a field of {mapping.sf_object} that can be imported "
                          f"({'already mapped' if row and row.mapped else 'unknown or not syncable'}).")
            continue
        mongo_name = request.POST.get(f"mongo-{name}", "").strip() or row.suggested_mongo_field
        if mongo_name.startswith("$") or mongo_name in taken:
            errors.append(f"{name}: MongoDB field name {mongo_name!r} is "
                          f"{'not allowed' if mongo_name.startswith('$') else 'already used'}.")
            continue
        taken.add(mongo_name)
        chosen[name] = mongo_name
    return chosen, errors


def _apply_schema(mapping: ObjectMapping, plan: mongo_schema.SchemaPlan) -> tuple[int, str]:
    try:
        return messages.SUCCESS, mongo_schema.apply_to_mapping(mapping, plan)
    except mongo_schema.SchemaApplyError as exc:
        return messages.ERROR, str(exc)
