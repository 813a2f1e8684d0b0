"""Who may call the REST API, scrape /metrics, or read the API's schema and docs: a user whose role
allows the method (dashboard.access: viewers read, operators act), by a logged-in session or by
`Authorization: Bearer <token>` (a token issued in the admin).

The answers are the same everywhere: 401 when there are no credentials or the token is unknown,
403 (naming the role that is missing) when the caller is a known user without the right. Only the
docs page, which a person opens in a browser, sends an anonymous visitor to the console's login
page instead (like every console page).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.openapi.views import openapi_view
from ninja.security import HttpBearer, SessionAuth

from dashboard.access import refusal as refusal_reason
from dashboard.models import ApiToken

UNAUTHENTICATED = "a logged-in session or `Authorization: Bearer <API token>` is required"


def _permitted(user: Any, request: HttpRequest) -> Any:
    """`user` if their role allows the request; raises AuthorizationError (403) saying which role is missing."""
    reason = refusal_reason(user, request.method)
    if reason:
        raise AuthorizationError(message=reason)
    return user


class StaffToken(HttpBearer):
    """`Authorization: Bearer <token>`: None for an unknown token (401), 403 for a non-staff user's."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = ApiToken.user_for(token)
        return _permitted(user, request) if user is not None else None


class StaffSession(SessionAuth):
    """A logged-in session (with Django's CSRF check on unsafe methods): 403 for a non-staff user."""

    def __call__(self, request: HttpRequest) -> Any:
        # Anonymous: no credentials (401), whatever the CSRF check would say.
        return super().__call__(request) if request.user.is_authenticated else None

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return _permitted(request.user, request)


METHODS = (StaffToken(), StaffSession())


def staff_caller(request: HttpRequest) -> Any:
    """The staff user making the request. Raises AuthenticationError (401) / AuthorizationError (403)."""
    for method in METHODS:
        user = method(request)
        if user:
            return user
    raise AuthenticationError(message=UNAUTHENTICATED)


def refusal(exc: AuthenticationError | AuthorizationError) -> JsonResponse:
    response = JsonResponse({"detail": str(exc)}, status=exc.status_code)
    if exc.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def docs_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """NinjaAPI's `docs_decorator`: the schema (openapi.json) and the docs page for staff only,
    by session or token."""
    is_page = getattr(view, "func", None) is openapi_view

    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            staff_caller(request)
        except AuthenticationError as exc:
            if is_page and "Authorization" not in request.headers:
                return redirect_to_login(request.get_full_path())
            return refusal(exc)
        except AuthorizationError as exc:
            return render(request, "dashboard/forbidden.html", status=403) if is_page else refusal(exc)
        return view(request, *args, **kwargs)

    return guarded
