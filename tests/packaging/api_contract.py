"""What breaks a client of the REST API: the difference between the published OpenAPI document
of /api/v1 (docs/openapi-v1.json) and the one the code serves now.

Additions are compatible (a new operation, a new optional input, a new response field, a new
schema); everything else that changes what a client sends or reads is a breaking change.
"""
from __future__ import annotations

from typing import Any

Doc = dict[str, Any]

#: Keys that describe a value for people, not what goes over the wire.
_PROSE = frozenset({"title", "description", "summary", "examples", "example", "operationId", "tags"})
_METHODS = ("get", "put", "post", "delete", "patch")


def _shape(value: Any) -> Any:
    """`value` without its prose, for comparing types."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items() if key not in _PROSE}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return value


def _request_schemas(doc: Doc) -> set[str]:
    """Names of the component schemas that some operation takes as its request body."""
    names = set()
    for operations in doc.get("paths", {}).values():
        for method in _METHODS:
            body = operations.get(method, {}).get("requestBody", {})
            for media in body.get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                names.add(ref.rsplit("/", 1)[-1])
    return names - {""}


def _operation_changes(where: str, published: Doc, current: Doc) -> list[str]:
    changes = []
    params_then = {(p["in"], p["name"]): p for p in published.get("parameters", [])}
    params_now = {(p["in"], p["name"]): p for p in current.get("parameters", [])}
    for key, param in params_then.items():
        if key not in params_now:
            changes.append(f"{where}: parameter {key[1]} ({key[0]}) removed")
        elif _shape(params_now[key].get("schema")) != _shape(param.get("schema")):
            changes.append(f"{where}: parameter {key[1]} changed type")
    for key, param in params_now.items():
        if param.get("required") and not params_then.get(key, {}).get("required"):
            changes.append(f"{where}: parameter {key[1]} ({key[0]}) is now required")
    if current.get("requestBody", {}).get("required") and "requestBody" not in published:
        changes.append(f"{where}: a request body is now required")
    for status in published.get("responses", {}):
        if status not in current.get("responses", {}):
            changes.append(f"{where}: response {status} removed")
        elif _shape(current["responses"][status]) != _shape(published["responses"][status]):
            changes.append(f"{where}: response {status} changed its body")
    if _shape(current.get("security")) != _shape(published.get("security")):
        changes.append(f"{where}: authentication changed")
    return changes


def _schema_changes(name: str, published: Doc, current: Doc, is_request: bool) -> list[str]:
    changes = []
    props_then, props_now = published.get("properties", {}), current.get("properties", {})
    required_then, required_now = set(published.get("required", [])), set(current.get("required", []))
    for prop, spec in props_then.items():
        if prop not in props_now:
            changes.append(f"schema {name}: field {prop} removed")
        elif _shape(props_now[prop]) != _shape(spec):
            changes.append(f"schema {name}: field {prop} changed type")
        elif (prop in required_then) != (prop in required_now):
            changes.append(f"schema {name}: field {prop} is {'now' if prop in required_now else 'no longer'} required")
    if is_request:
        changes += [f"schema {name}: new required field {prop}" for prop in sorted(required_now - set(props_then))]
    if published.get("type") != current.get("type"):
        changes.append(f"schema {name}: changed from {published.get('type')} to {current.get('type')}")
    return changes


def breaking_changes(published: Doc, current: Doc) -> list[str]:
    """Every change from `published` to `current` that could break a client; [] if none."""
    changes = []
    if published.get("info", {}).get("version") != current.get("info", {}).get("version"):
        changes.append("info.version changed")
    for path, operations in published.get("paths", {}).items():
        for method in _METHODS:
            if method not in operations:
                continue
            where = f"{method.upper()} {path}"
            now = current.get("paths", {}).get(path, {}).get(method)
            if now is None:
                changes.append(f"{where} removed")
            else:
                changes += _operation_changes(where, operations[method], now)
    requests = _request_schemas(published) | _request_schemas(current)
    schemas_now = current.get("components", {}).get("schemas", {})
    for name, schema in published.get("components", {}).get("schemas", {}).items():
        if name not in schemas_now:
            changes.append(f"schema {name} removed (or renamed)")
        else:
            changes += _schema_changes(name, schema, schemas_now[name], name in requests)
    return changes
