"""A tiny client for the emulator-only control API (``/_emulator/...``), for tests and benches.

    ctl = EmulatorControl(server.url, server.ca_path, access_token)
    ctl.set_faults(unable_to_lock_row={"count": 3, "objects": ["Account"]}, latency_ms=200)
    ctl.add_rule("No_Big_Deals", "Opportunity", "Amount", ">", 1e6, "Too big.")
    ctl.clear_faults()

Uses its own ``requests.Session`` with ``trust_env=False`` so REQUESTS_CA_BUNDLE
cannot override the emulator CA.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import requests


class EmulatorControlError(RuntimeError):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"{response.request.method} {response.url} -> {response.status_code}: {response.text}")
        self.response = response


class EmulatorControl:
    def __init__(self, url: str, ca_path: Path | str, token: str, timeout: float = 30.0) -> None:
        self.base = url.rstrip("/") + "/_emulator"
        self.timeout = timeout
        self.http = requests.Session()
        self.http.verify = str(ca_path)
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, self.base + path, timeout=self.timeout, **kw)
        if r.status_code >= 400:
            raise EmulatorControlError(r)
        return r.json() if r.content else None

    # -- faults ----------------------------------------------------------------
    def set_faults(self, **faults: Any) -> dict:
        """Merge faults, e.g. ``set_faults(http_503={"count": 2}, daily_api_limit=50)``; returns the state."""
        return self._call("POST", "/faults", json=faults)

    def faults(self) -> dict:
        return self._call("GET", "/faults")

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/faults")

    # -- validation rules ----------------------------------------------------------
    def add_rule(self, name: str, sobject: str, field: str, operator: str, value: Any = None,
                 message: str = "") -> dict:
        return self._call("POST", "/validation-rules", json={
            "name": name, "object": sobject, "field": field, "operator": operator, "value": value,
            "message": message})

    def rules(self) -> list[dict]:
        return self._call("GET", "/validation-rules")

    def remove_rule(self, name: str) -> None:
        self._call("DELETE", f"/validation-rules/{name}")

    # -- records ---------------------------------------------------------------
    def undelete(self, sobject: str, record_id: str, client: str | None = None) -> None:
        headers = {"Sforce-Call-Options": f"client={client}"} if client else {}
        self._call("POST", f"/records/{sobject}/{record_id}/undelete", headers=headers)

    def purge(self, sobject: str, record_id: str) -> None:
        self._call("DELETE", f"/records/{sobject}/{record_id}/purge")

    def changes(self, after: int = 0, limit: int = 1000, record_id: str | None = None) -> list[dict]:
        params: dict[str, Any] = {"after": after, "limit": limit}
        if record_id:
            params["recordId"] = record_id
        return self._call("GET", "/changes", params=params)

    # -- schema ----------------------------------------------------------------
    def alter_field(self, sobject: str, field: str, field_type: str | None) -> dict | None:
        """Add ``field`` (when missing) or retype it to ``field_type`` (a describe type);
        remove it when ``field_type`` is None. Lasts until :meth:`reset_schema` or a restart."""
        if field_type is None:
            return self._call("DELETE", f"/schema/{sobject}/fields/{field}")
        return self._call("POST", f"/schema/{sobject}/fields/{field}", json={"type": field_type})

    def reset_schema(self) -> None:
        """Put back every object's built-in fields."""
        self._call("DELETE", "/schema")

    # -- usage and settings ------------------------------------------------------
    def usage(self) -> dict:
        """``{"used": N, "max": M}`` — today's DailyApiRequests (control calls don't count)."""
        return self._call("GET", "/usage")

    def reset_usage(self) -> dict:
        return self._call("POST", "/reset-usage")

    def settings(self, **values: Any) -> dict:
        """Read, or with keyword arguments update, emulator settings (replication_granularity_ms,
        modstamp_granularity_ms)."""
        if values:
            return self._call("POST", "/settings", json=values)
        return self._call("GET", "/settings")

    # -- Pub/Sub API (change events, platform events) ---------------------------------
    def pubsub_settings(self, **values: float) -> dict:
        """Read, or with keyword arguments update, ``retention_s`` and ``keepalive_s``."""
        if values:
            return self._call("POST", "/pubsub/settings", json=values)
        return self._call("GET", "/pubsub/settings")

    def set_event_retention(self, seconds: float) -> dict:
        """Events older than this are purged (default 72 h); stored replay ids of them stop working."""
        return self.pubsub_settings(retention_s=seconds)

    def set_pubsub_keepalive(self, seconds: float) -> dict:
        """Idle Subscribe streams get an empty FetchResponse this often (default 270 s)."""
        return self.pubsub_settings(keepalive_s=seconds)

    def cdc_objects(self) -> list[str]:
        return self._call("GET", "/pubsub/cdc")["objects"]

    def set_cdc(self, sobject: str, enabled: bool) -> list[str]:
        """Enable/disable Change Data Capture for one object; returns the enabled objects."""
        return self._call("POST", "/pubsub/cdc", json={"object": sobject, "enabled": enabled})["objects"]

    def emit_gap(self, sobject: str, record_ids: list[str], change_type: str = "GAP_UPDATE") -> str:
        """Put a GAP_* change event on the bus; returns its replay id (hex)."""
        return self._call("POST", "/pubsub/gap", json={"object": sobject, "recordIds": record_ids,
                                                       "changeType": change_type})["replayId"]

    def emit_overflow(self, sobject: str) -> str:
        """Put a GAP_OVERFLOW change event on the bus; returns its replay id (hex)."""
        return self._call("POST", "/pubsub/overflow", json={"object": sobject})["replayId"]
