"""OAuth 2.0: ``POST /services/oauth2/token`` (password, client-credentials,
authorization-code and refresh-token grants), ``GET /services/oauth2/authorize``
(web-server flow) and ``POST /services/oauth2/revoke``.

The emulated org has one user who is always "logged in": ``authorize``
approves at once and redirects with a code (there is no login page).  Codes
are single-use and live 15 minutes; the authorization-code grant also returns
a ``refresh_token``, which the ``refresh_token`` grant exchanges for new
access tokens until it is revoked (no rotation, the real default).
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import ids
from ..org import Org
from .http import json_response

_NO_CACHE = {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}
_GRANTS = ("password", "client_credentials", "authorization_code", "refresh_token")


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status, _NO_CACHE)


async def _form(request: Request) -> dict[str, str]:
    form = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    return form


def _token_body(request: Request, org: Org, user_id: str) -> dict:
    access_token, issued_ms = org.auth.issue(user_id)
    base = f"https://{request.headers.get('host', request.url.netloc)}"
    identity = f"{base}/id/{ids.ORG_ID}/{user_id}"
    issued_at = str(issued_ms)
    return {"access_token": access_token, "instance_url": base, "id": identity,
            "token_type": "Bearer", "issued_at": issued_at,
            "signature": org.auth.signature(identity, issued_at)}


async def token(request: Request) -> Response:
    org: Org = request.app.state.org
    form = await _form(request)
    grant = form.get("grant_type")
    if grant not in _GRANTS:
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    auth = org.auth
    if not auth.client_known(form.get("client_id")):
        return _oauth_error("invalid_client_id", "client identifier invalid")
    # A public client (PKCE, the CLI's app) refreshes without a secret; a wrong one is refused.
    secret_optional = grant == "refresh_token" and "client_secret" not in form
    if not secret_optional and not auth.client_secret_ok(form.get("client_secret")):
        return _oauth_error("invalid_client", "invalid client credentials")
    refresh: str | None = None
    if grant == "password":
        user_id = auth.check_user(form.get("username"), form.get("password"))
        if user_id is None:
            return _oauth_error("invalid_grant", "authentication failure")
    elif grant == "authorization_code":
        user_id = auth.redeem_code(form.get("code"), form.get("redirect_uri"))
        if user_id is None:
            return _oauth_error("invalid_grant", "invalid authorization code")
        refresh = auth.issue_refresh(user_id)
    elif grant == "refresh_token":
        user_id = auth.user_for_refresh(form.get("refresh_token"))
        if user_id is None:
            return _oauth_error("invalid_grant", "expired access/refresh token")
    else:
        user_id = ids.ADMIN_USER_ID  # the connected app's "run as" user
    body = _token_body(request, org, user_id)
    if refresh is not None:
        body["refresh_token"] = refresh
    if grant != "password":
        body["scope"] = "refresh_token api" if grant != "client_credentials" else "api"
    return json_response(body, 200, _NO_CACHE)


async def authorize(request: Request) -> Response:
    """Web-server flow, step 1: approve at once and redirect to ``redirect_uri`` with ``code``."""
    org: Org = request.app.state.org
    params = request.query_params
    if params.get("response_type") != "code":
        return _oauth_error("unsupported_response_type", "response type not supported")
    if not org.auth.client_known(params.get("client_id")):
        return _oauth_error("invalid_client_id", "client identifier invalid")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        return _oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
    answer = {"code": org.auth.issue_code(ids.ADMIN_USER_ID, redirect_uri)}
    if "state" in params:
        answer["state"] = params["state"]
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(answer)}", status_code=302)


async def revoke(request: Request) -> Response:
    """Salesforce answers 200 with an empty body, or 400 `unsupported_token_type` for an unknown token."""
    org: Org = request.app.state.org
    form = await _form(request)
    if not org.auth.revoke(form.get("token", "")):
        return _oauth_error("unsupported_token_type", "this token type is not supported")
    return Response(status_code=200, headers=_NO_CACHE)
