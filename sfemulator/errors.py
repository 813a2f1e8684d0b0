"""Salesforce-shaped API errors.

REST errors are a JSON *array* of ``{"message", "errorCode"[, "fields"]}``.
Handlers raise :class:`ApiError`; the app turns it into that body.
"""
from __future__ import annotations

from collections.abc import Sequence

_CUSTOM_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the "
    "custom field name. Please reference your WSDL or the describe call for the appropriate names."
)
_CUSTOM_OBJECT_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the "
    "entity name. Please reference your WSDL or the describe call for the appropriate names."
)


class ApiError(Exception):
    """One Salesforce REST error; ``fields`` None omits the key as SF does."""

    def __init__(self, status: int, error_code: str, message: str,
                 fields: Sequence[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields) if fields is not None else None
        self._body: object = None

    def with_body(self, body: object) -> ApiError:
        """Replace the standard error array (e.g. 300 upsert: a list of record URLs)."""
        self._body = body
        return self

    def body(self) -> object:
        if self._body is not None:
            return self._body
        err: dict = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            err["fields"] = self.fields
        return [err]


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def entity_deleted() -> ApiError:
    return ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def unknown_sobject_in_query(name: str) -> str:
    return f"sObject type '{name}' is not supported. {_CUSTOM_OBJECT_HINT}"


def unknown_column(name: str, sobject: str) -> str:
    return f"No such column '{name}' on entity '{sobject}'. {_CUSTOM_FIELD_HINT}"


def unknown_relationship(name: str) -> str:
    return (f"Didn't understand relationship '{name}' in field path. If you are attempting to use "
            "a custom relationship, be sure to append the '__r' after the custom relationship "
            "name. Please reference your WSDL or the describe call for the appropriate names.")


def write_unknown_field(name: str, sobject: str) -> ApiError:
    return ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [])


def json_parser_error(message: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", message)
