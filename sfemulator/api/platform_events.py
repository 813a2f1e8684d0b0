"""``/sobjects/<Event>__e``: publish a platform event over REST (POST), basic info and describe (GET).

Publishing answers like a record create, ``201 {"id": "e00...", "success": true, "errors": []}``;
the event goes onto the bus and reaches Pub/Sub subscribers of ``/event/<Event>__e``.
"""
from __future__ import annotations

from starlette.responses import Response

from .. import describe as desc
from ..errors import ApiError, not_found
from ..org import Org
from ..pubsub.platformevents import publish_rest
from ..schema import SObject
from .http import Call, json_response


def route(org: Org, call: Call, event: SObject, tail: list[str]) -> Response:
    if not tail:
        if call.method == "POST":
            new_id = publish_rest(org.events, org.store, event, call.json(), call.user_id)
            return json_response({"id": new_id, "success": True, "errors": []}, 201, call.extra_headers)
        if call.method == "GET":
            return json_response({"objectDescribe": desc.global_entry(event, call.version), "recentItems": []},
                                 headers=call.extra_headers)
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD,POST")
    if tail == ["describe"]:
        if call.method != "GET":
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")
        return json_response(desc.object_describe(event, call.version), headers=call.extra_headers)
    raise not_found()
