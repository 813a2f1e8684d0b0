"""Who is logged in: the OAuth identity URL (``/id/{orgId}/{userId}``) and the
OpenID Connect ``/services/oauth2/userinfo`` endpoint.

Both take the access token as ``Authorization: Bearer``.  As on a real org a
missing or bad token is a 403 with a plain-text body (``Missing_OAuth_Token`` /
``Bad_OAuth_Token``), not the REST API's JSON error array.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .. import ids
from ..org import Org
from .http import json_response

_DISPLAY_NAME = "Demo Admin"


def _user(request: Request) -> str | Response:
    """The user Id of a live session, else the 403 to answer."""
    org: Org = request.app.state.org
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() in ("bearer", "oauth") else ""
    token = token or request.query_params.get("oauth_token", "")
    if not token:
        return PlainTextResponse("Missing_OAuth_Token", 403)
    user_id = org.auth.user_for(token)
    if user_id is None:
        return PlainTextResponse("Bad_OAuth_Token", 403)
    return user_id


def _urls(base: str, user_id: str) -> dict[str, str]:
    org15 = ids.ORG_ID
    return {
        "enterprise": f"{base}/services/Soap/c/{{version}}/{org15}",
        "metadata": f"{base}/services/Soap/m/{{version}}/{org15}",
        "partner": f"{base}/services/Soap/u/{{version}}/{org15}",
        "rest": f"{base}/services/data/v{{version}}/",
        "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
        "search": f"{base}/services/data/v{{version}}/search/",
        "query": f"{base}/services/data/v{{version}}/query/",
        "recent": f"{base}/services/data/v{{version}}/recent/",
        "profile": f"{base}/{user_id}",
    }


def _base(request: Request) -> str:
    return f"https://{request.headers.get('host', request.url.netloc)}"


async def identity(request: Request) -> Response:
    """The identity URL returned as ``id`` by the token endpoint (a user may read only their own)."""
    user_id = _user(request)
    if isinstance(user_id, Response):
        return user_id
    if request.path_params["user"] != user_id or request.path_params["org"] != ids.ORG_ID:
        return PlainTextResponse("Bad_Id", 403)
    org: Org = request.app.state.org
    base = _base(request)
    username = org.auth.creds.username
    return json_response({
        "id": f"{base}/id/{ids.ORG_ID}/{user_id}", "asserted_user": True, "user_id": user_id,
        "organization_id": ids.ORG_ID, "username": username, "nick_name": username.split("@")[0],
        "display_name": _DISPLAY_NAME, "email": username, "email_verified": True, "first_name": "Demo",
        "last_name": "Admin", "timezone": "GMT", "photos": {}, "addr_street": None, "addr_city": None,
        "addr_state": None, "addr_country": None, "addr_zip": None, "mobile_phone": None,
        "mobile_phone_verified": False, "is_lightning_login_user": False, "status": {"created_date": None,
                                                                                        "body": None},
        "urls": _urls(base, user_id), "active": True, "user_type": "STANDARD", "language": "en_US",
        "locale": "en_US", "utcOffset": 0, "last_modified_date": "2026-01-01T00:00:00Z",
        "is_app_installed": True})


async def userinfo(request: Request) -> Response:
    """OpenID Connect UserInfo: claims about the token's user (``sub`` is the identity URL)."""
    user_id = _user(request)
    if isinstance(user_id, Response):
        return user_id
    org: Org = request.app.state.org
    base = _base(request)
    username = org.auth.creds.username
    return json_response({
        "sub": f"{base}/id/{ids.ORG_ID}/{user_id}", "user_id": user_id, "organization_id": ids.ORG_ID,
        "preferred_username": username, "nickname": username.split("@")[0], "name": _DISPLAY_NAME,
        "email": username, "email_verified": True, "given_name": "Demo", "family_name": "Admin",
        "zoneinfo": "GMT", "photos": {}, "profile": f"{base}/{user_id}", "picture": None, "address": {},
        "is_salesforce_integration_user": False, "urls": _urls(base, user_id), "active": True,
        "user_type": "STANDARD", "language": "en_US", "locale": "en_US", "utcOffset": 0,
        "updated_at": "2026-01-01T00:00:00Z", "is_app_installed": True})
