"""Response helpers shared by the route modules."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from ..changes import Caller, client_from_call_options
from ..errors import ApiError, json_parser_error

JSON_CT = "application/json;charset=UTF-8"


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON_CT, headers=dict(headers or {}))


def error_response(err: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(err.body(), err.status, headers)


def no_content(headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=204, headers=dict(headers or {}))


def parse_json_body(raw: bytes) -> Any:
    """Decode a request body; malformed JSON -> JSON_PARSER_ERROR like Salesforce's parser."""
    if not raw.strip():
        raise json_parser_error("No content to map due to end-of-input at [line:1, column:0]")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            raise json_parser_error(f"Unexpected character ({exc.msg}) at [line:{exc.lineno}, "
                                    f"column:{exc.colno}]") from None
        except UnicodeDecodeError:
            pass
        raise json_parser_error("Invalid UTF-8 or JSON in request body") from None


@dataclass
class Call:
    """One authenticated REST call, as handed to the synchronous handlers."""

    method: str
    version: str
    segments: list[str]
    query_params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    user_id: str
    host: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return parse_json_body(self.body)

    @property
    def caller(self) -> Caller:
        """Who writes: user, API version and ``Sforce-Call-Options: client=`` name."""
        return Caller(self.user_id, self.version, client_from_call_options(self.headers.get("sforce-call-options")))
