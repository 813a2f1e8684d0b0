"""Salesforce describe results, cached per org and object for a few minutes so that admin
pages and form validation stay fast, with one clear line when Salesforce cannot be reached."""
from __future__ import annotations

import threading
import time
from typing import Any

from connectors.models import SalesforceOrg
from connectors.salesforce.auth import SalesforceLoginError
from connectors.wiring import salesforce_client

#: Long enough to keep a person's editing session fast, short enough that a field just
#: created in Setup shows up soon (the import page and drift checks can also ask fresh).
TTL_SECONDS = 180.0
#: Page views wait on Salesforce for at most this long before saying it is unreachable.
RETRY_SECONDS = 5.0

_cache: dict[tuple[int, str, str], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class DescribeUnavailable(RuntimeError):
    """Salesforce could not describe the object; the message is one line for a person."""


def describe_object(org: SalesforceOrg, sf_object: str, fresh: bool = False) -> dict[str, Any]:
    """The object's describe (cached for TTL_SECONDS unless `fresh`). Raises DescribeUnavailable."""
    key = (org.pk, org.login_url, sf_object.lower())
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit and not fresh and now - hit[0] < TTL_SECONDS:
        return hit[1]
    client = salesforce_client(org, retry_for_seconds=RETRY_SECONDS)
    try:
        describe = client.describe(sf_object)
    except SalesforceLoginError as exc:
        raise DescribeUnavailable(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - any failure becomes one line for the person
        raise DescribeUnavailable(
            f"salesforce: could not describe {sf_object} on org {org.name} ({org.login_url}): {_reason(exc)}"
        ) from exc
    with _lock:
        _cache[key] = (now, describe)
    return describe


def forget(org: SalesforceOrg | None = None) -> None:
    """Drop cached describes (of one org, or all)."""
    with _lock:
        for key in [k for k in _cache if org is None or k[0] == org.pk]:
            del _cache[key]


def fields_by_name(describe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """describe's field entries by lower-cased API name (API names are case-insensitive)."""
    return {f["name"].lower(): f for f in describe["fields"]}


def _reason(exc: Exception) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return f"{first.get('errorCode', type(exc).__name__)}: {first.get('message', '')}"
    return f"{type(exc).__name__}: {exc}"
