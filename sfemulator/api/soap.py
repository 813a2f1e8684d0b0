"""``POST /services/Soap/u/{version}`` — the partner API ``login()`` and ``logout()`` calls."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from .. import ids
from ..org import Org

_PARTNER_NS = "urn:partner.soap.sforce.com"
_XML_CT = "text/xml;charset=UTF-8"
_LOGIN_FAULT_MSG = "Invalid username, password, security token; or user locked out."


def _fault(code: str, message: str, fault_type: str = "UnexpectedErrorFault") -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:{fault_type} xsi:type="sf:{fault_type}"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:{fault_type}></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status_code=500, media_type=_XML_CT)


def _login_response(host: str, version: str, session_id: str, user_id: str, org: Org, ttl_s: int) -> Response:
    base = f"https://{host}"
    creds = org.auth.creds
    info = {
        "accessibilityMode": "false", "chatterExternal": "false", "currencySymbol": "$",
        "orgAttachmentFileSizeLimit": "5242880", "orgDefaultCurrencyIsoCode": "USD",
        "orgDefaultCurrencyLocale": "en_US", "orgDisallowHtmlAttachments": "false",
        "orgHasPersonAccounts": "false", "organizationId": ids.ORG_ID,
        "organizationMultiCurrency": "false", "organizationName": "SF Emulator Demo Org",
        "profileId": ids.make_id("00e", 1), "roleId": None, "sessionSecondsValid": str(ttl_s),
        "userDefaultCurrencyIsoCode": None, "userEmail": creds.username, "userFullName": "Demo Admin",
        "userId": user_id, "userLanguage": "en_US", "userLocale": "en_US", "userName": creds.username,
        "userTimeZone": "GMT", "userType": "Standard", "userUiSkin": "Theme3",
    }
    user_info = "".join(f'<{k} xsi:nil="true"/>' if v is None else f"<{k}>{escape(v)}</{k}>"
                        for k, v in info.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{base}/services/Soap/m/{version}/{ids.ORG_ID[:15]}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{base}/services/Soap/u/{version}/{ids.ORG_ID[:15]}</serverUrl>"
        f"<sessionId>{escape(session_id)}</sessionId><userId>{user_id}</userId>"
        f"<userInfo>{user_info}</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status_code=200, media_type=_XML_CT)


def _logout(org: Org, session_id: str | None) -> Response:
    """End the session named in the SessionHeader; a dead or missing one is INVALID_SESSION_ID."""
    if not session_id or org.auth.user_for(session_id.strip()) is None or not org.auth.revoke(session_id.strip()):
        return _fault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal Session")
    body = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><logoutResponse/></soapenv:Body></soapenv:Envelope>")
    return Response(body, status_code=200, media_type=_XML_CT)


async def login(request: Request) -> Response:
    org: Org = request.app.state.org
    version = request.path_params["version"]
    try:
        root = ET.fromstring(await request.body())
    except ET.ParseError as exc:
        return _fault("INVALID_REQUEST", f"Unable to parse request: {exc}")
    login_el = root.find(f".//{{{_PARTNER_NS}}}login")
    if login_el is None:
        if root.find(f".//{{{_PARTNER_NS}}}logout") is not None:
            return _logout(org, root.findtext(f".//{{{_PARTNER_NS}}}SessionHeader/{{{_PARTNER_NS}}}sessionId"))
        return _fault("UNKNOWN_EXCEPTION", "Only the login() and logout() calls are emulated")
    username = login_el.findtext(f"{{{_PARTNER_NS}}}username")
    password = login_el.findtext(f"{{{_PARTNER_NS}}}password")
    user_id = org.auth.check_user(username, password)
    if user_id is None:
        return _fault("INVALID_LOGIN", _LOGIN_FAULT_MSG, "LoginFault")
    session_id, _ = org.auth.issue(user_id)
    host = request.headers.get("host", request.url.netloc)
    return _login_response(host, version, session_id, user_id, org, org.auth.session_ttl_ms // 1000)
