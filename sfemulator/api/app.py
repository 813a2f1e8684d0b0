"""Starlette application wiring."""
from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ApiError, not_found
from ..org import Org
from . import admin, async_api, data, identity, oauth, soap
from .http import error_response, json_response


class _CollapseSlashes:
    """Treat ``//services/...`` as ``/services/...``: the Salesforce CLI joins an instance URL
    ending in ``/`` with ``/services/data/...`` when it looks up the logged-in user, and a real
    org tolerates the doubled slash."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = {**scope, "path": re.sub("/{2,}", "/", scope["path"])}
        await self.app(scope, receive, send)


async def fallback(request: Request) -> Response:
    return error_response(not_found())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Any bug surfaces as Salesforce's generic 500 rather than a bare text page."""
    logging.getLogger("sfemulator").exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response([{"message": f"An unexpected error occurred: {type(exc).__name__}: {exc}",
                           "errorCode": "UNKNOWN_EXCEPTION"}], 500)


def build_app(org: Org) -> Starlette:
    """The ASGI app serving ``org``."""
    routes = [
        Route("/services/oauth2/token", oauth.token, methods=["POST"]),
        Route("/services/oauth2/revoke", oauth.revoke, methods=["POST"]),
        Route("/services/oauth2/authorize", oauth.authorize, methods=["GET"]),
        Route("/services/oauth2/userinfo", identity.userinfo, methods=["GET", "POST"]),
        Route("/services/Soap/u/{version}", soap.login, methods=["POST"]),
        Route("/services/Soap/u/{version}/{org_id}", soap.login, methods=["POST"]),
        Route("/services/data", data.versions, methods=["GET"]),
        Route("/services/data/", data.versions, methods=["GET"]),
        Route("/services/data/{rest:path}", data.dispatch,
              methods=["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]),
        Route("/services/async/{version}/{rest:path}", async_api.dispatch, methods=["GET", "POST"]),
        Route("/id/{org}/{user}", identity.identity, methods=["GET", "POST"]),
        *admin.routes(),
        Route("/{path:path}", fallback, methods=["GET", "POST", "PATCH", "DELETE", "PUT"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_CollapseSlashes)],
                    exception_handlers={ApiError: _api_error, Exception: _unexpected})
    app.router.redirect_slashes = False
    app.state.org = org
    return app
