"""Starlette application wiring."""
from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import ids
from ..errors import ApiError, invalid_session, not_found
from ..org import Org
from . import admin, data, oauth, soap
from .http import error_response, json_response


async def identity(request: Request) -> Response:
    """Minimal OAuth identity URL (``id`` in the token response)."""
    org: Org = request.app.state.org
    header = request.headers.get("authorization", "")
    user_id = org.auth.user_for(header.partition(" ")[2].strip() or None)
    if user_id is None or request.path_params["user"] != user_id:
        return error_response(invalid_session())
    creds = org.auth.creds
    return json_response({"id": str(request.url), "organization_id": ids.ORG_ID, "user_id": user_id,
                          "username": creds.username, "display_name": "Demo Admin", "email": creds.username,
                          "active": True, "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
                          "utcOffset": 0})


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
        Route("/services/Soap/u/{version}", soap.login, methods=["POST"]),
        Route("/services/Soap/u/{version}/{org_id}", soap.login, methods=["POST"]),
        Route("/services/data", data.versions, methods=["GET"]),
        Route("/services/data/", data.versions, methods=["GET"]),
        Route("/services/data/{rest:path}", data.dispatch,
              methods=["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]),
        Route("/id/{org}/{user}", identity, methods=["GET"]),
        *admin.routes(),
        Route("/{path:path}", fallback, methods=["GET", "POST", "PATCH", "DELETE", "PUT"]),
    ]
    app = Starlette(routes=routes, exception_handlers={ApiError: _api_error, Exception: _unexpected})
    app.router.redirect_slashes = False
    app.state.org = org
    return app
