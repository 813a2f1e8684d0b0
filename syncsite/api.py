"""The project's one NinjaAPI: /api/v1, for the console's roles (viewers read, operators act), by
session (with CSRF) or API token.

Domain errors become HTTP answers here, declared on each route (dashboard.schemas.answers):
401/403 for credentials (dashboard.api_auth), 409 for a refusal in the current state, 422 for a
value that does not fit, 503 when MongoDB, Kafka or Salesforce does not answer (the service
layer's one ServiceUnavailable, whatever the adapter said).
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from connectors.operations import ServiceUnavailable
from connectors.operations.conflict_queue import ResolutionError
from connectors.operations.error_queue import NotRetryable
from connectors.operations.records import ReadOnlyMapping
from dashboard import api_auth, audit_api, events_api, records_api
from dashboard.api import router


class SyncAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> Any:
        """Ninja's document, with each mapping's record bodies (dashboard.records_api.with_record_bodies)."""
        return records_api.with_record_bodies(super().get_openapi_schema(path_prefix=path_prefix,
                                                                         path_params=path_params))


api = SyncAPI(
    title="Salesforce ⇄ MongoDB sync",
    version="1",
    auth=list(api_auth.METHODS),
    urls_namespace="api-v1",
    docs_decorator=api_auth.docs_access,
)
api.add_router("/", router)
api.add_router("/", records_api.router)
api.add_router("/", events_api.router)
api.add_router("/", audit_api.router)


def _detail(request: HttpRequest, detail: str, status: int) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _detail(request, api_auth.UNAUTHENTICATED, 401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(ResolutionError)
def unresolvable(request: HttpRequest, exc: ResolutionError) -> HttpResponse:
    return _detail(request, str(exc), 422)


@api.exception_handler(NotRetryable)
def not_retryable(request: HttpRequest, exc: NotRetryable) -> HttpResponse:
    return _detail(request, str(exc), 409)


@api.exception_handler(ReadOnlyMapping)
def read_only_mapping(request: HttpRequest, exc: ReadOnlyMapping) -> HttpResponse:
    return _detail(request, str(exc), 409)


@api.exception_handler(ServiceUnavailable)
def unreachable(request: HttpRequest, exc: ServiceUnavailable) -> HttpResponse:
    """The message names the service and what to check."""
    return _detail(request, str(exc), 503)
