"""``POST /services/oauth2/token`` (username-password and client-credentials flows) and
``POST /services/oauth2/revoke``."""
from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from .. import ids
from ..org import Org
from .http import json_response

_NO_CACHE = {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status, _NO_CACHE)


async def token(request: Request) -> Response:
    org: Org = request.app.state.org
    form = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    grant = form.get("grant_type")
    if grant not in ("password", "client_credentials"):
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    auth = org.auth
    if not auth.client_known(form.get("client_id")):
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if not auth.client_secret_ok(form.get("client_secret")):
        return _oauth_error("invalid_client", "invalid client credentials")
    if grant == "password":
        user_id = auth.check_user(form.get("username"), form.get("password"))
        if user_id is None:
            return _oauth_error("invalid_grant", "authentication failure")
    else:
        user_id = ids.ADMIN_USER_ID  # the connected app's "run as" user
    access_token, issued_ms = auth.issue(user_id)
    base = f"https://{request.headers.get('host', request.url.netloc)}"
    identity = f"{base}/id/{ids.ORG_ID}/{user_id}"
    issued_at = str(issued_ms)
    body = {"access_token": access_token, "instance_url": base, "id": identity,
            "token_type": "Bearer", "issued_at": issued_at,
            "signature": auth.signature(identity, issued_at)}
    if grant == "client_credentials":
        body["scope"] = "api"
    return json_response(body, 200, _NO_CACHE)


async def revoke(request: Request) -> Response:
    """Salesforce answers 200 with an empty body, or 400 `unsupported_token_type` for an unknown token."""
    org: Org = request.app.state.org
    form = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    if not org.auth.revoke(form.get("token", "")):
        return _oauth_error("unsupported_token_type", "this token type is not supported")
    return Response(status_code=200, headers=_NO_CACHE)
