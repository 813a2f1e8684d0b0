"""Who may do what in the console and the REST API (the roles of connectors.roles): reading needs
the viewer's permission (connectors.view_console), every action (an unsafe method: POST, PUT,
PATCH, DELETE) the operator's (connectors.operate_sync). Superusers hold both.

Anonymous visitors go to the console's own login page (settings.LOGIN_URL) and come back
afterwards; a logged-in user without the right is told which role is missing, with a 403.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from connectors.roles import OPERATE_SYNC, VIEW_CONSOLE

View = Callable[..., HttpResponse]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def needed_permission(method: str | None) -> str:
    return VIEW_CONSOLE if (method or "GET").upper() in SAFE_METHODS else OPERATE_SYNC


def refusal(user: Any, method: str | None) -> str | None:
    """Why `user` may not make a request with `method`, or None when they may."""
    permission = needed_permission(method)
    if user.has_perm(permission):
        return None
    name = user.get_username()
    if permission == OPERATE_SYNC and user.has_perm(VIEW_CONSOLE):
        return (f"user {name!r} may read but not act: pausing, resuming, backfills, reconciles, resolving "
                f"conflicts, retrying or discarding errors and writing records need the Operators role "
                f"(permission {OPERATE_SYNC})")
    return (f"user {name!r} has no console role: reading needs the Viewers role (permission {VIEW_CONSOLE}); "
            f"an administrator adds users to Viewers, Operators or Admins in the admin")


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "dashboard/forbidden.html", {"reason": reason}, status=403)


def console_access(view: View) -> View:
    """Run `view` for a user whose role allows the request's method; anonymous -> login redirect
    with `?next=`; others -> a 403 page naming the role they lack."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        reason = refusal(user, request.method)
        if reason:
            return forbidden(request, reason)
        return view(request, *args, **kwargs)

    return guarded
