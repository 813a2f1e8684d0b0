"""Who may open a console page: staff only. Anonymous visitors go to the console's own login
page (settings.LOGIN_URL) and come back afterwards; a logged-in user who is not staff is told
so with a 403 rather than being sent round the login form again."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Run `view` for staff; anonymous -> login redirect with `?next=`; others -> 403 page."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user.is_staff:
            return render(request, "dashboard/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return guarded
