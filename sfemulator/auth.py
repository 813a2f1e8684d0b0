"""Authentication: credential checks, persisted sessions and API usage counting.

Sessions are opaque tokens stored in SQLite (so they survive restarts) with
an absolute expiry; an in-memory cache avoids a DB read per request.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from datetime import UTC, datetime

from . import ids
from .config import DEFAULT_SESSION_TTL_S, Credentials
from .store import Store

DAILY_API_MAX = 15000
_FLUSH_EVERY = 50
_CODE_TTL_MS = 15 * 60 * 1000
_REFRESH_KEY = "refresh_token:"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class Auth:
    """Login checks, token issue/validation and the DailyApiRequests counter."""

    def __init__(self, store: Store, creds: Credentials, session_ttl_s: int = DEFAULT_SESSION_TTL_S) -> None:
        self.store = store
        self.creds = creds
        self.session_ttl_ms = int(session_ttl_s * 1000)
        self._cache: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._usage_day = self._today()
        self._usage = int(store.get_meta(f"api_usage:{self._usage_day}") or 0)
        self._unflushed = 0
        self._codes: dict[str, tuple[str, str, int]] = {}  # code -> (user, redirect_uri, expiry ms)

    # -- credentials ---------------------------------------------------------
    def check_user(self, username: str | None, password: str | None) -> str | None:
        """User Id when ``password`` is the password + security token (as Salesforce requires)."""
        expected = self.creds.password + self.creds.security_token
        if (username or "").lower() == self.creds.username.lower() and \
                hmac.compare_digest((password or "").encode(), expected.encode()):
            return ids.ADMIN_USER_ID
        return None

    def client_known(self, client_id: str | None) -> bool:
        return client_id == self.creds.client_id

    def client_secret_ok(self, secret: str | None) -> bool:
        return hmac.compare_digest((secret or "").encode(), self.creds.client_secret.encode())

    def signature(self, identity_url: str, issued_at: str) -> str:
        """Salesforce's ``signature``: base64 HMAC-SHA256 of id + issued_at keyed by the client secret."""
        mac = hmac.new(self.creds.client_secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256)
        return base64.b64encode(mac.digest()).decode()

    # -- sessions ------------------------------------------------------------
    def issue(self, user_id: str) -> tuple[str, int]:
        """Create a session; returns (access token, issued_at ms)."""
        token = f"{ids.ORG_ID[:15]}!{secrets.token_urlsafe(72)}"
        issued = _now_ms()
        expires = issued + self.session_ttl_ms
        with self.store.write() as c:
            c.execute("DELETE FROM sessions WHERE expires_ms < ?", (issued,))
            c.execute("INSERT INTO sessions(token, user_id, issued_ms, expires_ms) VALUES (?,?,?,?)",
                      (token, user_id, issued, expires))
        with self._lock:
            self._cache[token] = (user_id, expires)
        return token, issued

    def revoke(self, token: str) -> bool:
        """End a session, or retire a refresh token, at once (OAuth revoke); True if there was one."""
        with self.store.write() as c:
            removed = c.execute("DELETE FROM sessions WHERE token = ?", (token,)).rowcount
            removed += c.execute("DELETE FROM meta WHERE key = ?", (_REFRESH_KEY + _digest(token),)).rowcount
        with self._lock:
            self._cache.pop(token, None)
        return bool(removed)

    # -- web-server flow: authorization codes and refresh tokens ------------------
    def issue_code(self, user_id: str, redirect_uri: str) -> str:
        """A single-use authorization code, valid for 15 minutes as on a real org."""
        code = secrets.token_urlsafe(48)
        with self._lock:
            now = _now_ms()
            self._codes = {k: v for k, v in self._codes.items() if v[2] > now}
            self._codes[code] = (user_id, redirect_uri, now + _CODE_TTL_MS)
        return code

    def redeem_code(self, code: str | None, redirect_uri: str | None) -> str | None:
        """User Id for a live code issued for ``redirect_uri``; the code is spent either way."""
        with self._lock:
            hit = self._codes.pop(code or "", None)
        if hit is None or hit[2] <= _now_ms() or hit[1] != (redirect_uri or ""):
            return None
        return hit[0]

    def issue_refresh(self, user_id: str) -> str:
        """A refresh token; it outlives sessions (kept, hashed, in SQLite) until revoked."""
        token = f"5Aep{secrets.token_urlsafe(64)}"
        self.store.set_meta(_REFRESH_KEY + _digest(token), user_id)
        return token

    def user_for_refresh(self, token: str | None) -> str | None:
        return self.store.get_meta(_REFRESH_KEY + _digest(token or "")) if token else None

    def user_for(self, token: str | None) -> str | None:
        """User Id of a live session, or None (unknown or expired)."""
        if not token:
            return None
        with self._lock:
            hit = self._cache.get(token)
        if hit is None:
            row = self.store.read("SELECT user_id, expires_ms FROM sessions WHERE token = ?", (token,))
            if not row:
                return None
            hit = (row[0][0], row[0][1])
            with self._lock:
                self._cache[token] = hit
        if hit[1] <= _now_ms():
            return None
        return hit[0]

    # -- API usage -------------------------------------------------------------
    @staticmethod
    def _today() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d")

    def count_request(self) -> int:
        """Count one API call; returns usage so far today (UTC day)."""
        with self._lock:
            day = self._today()
            if day != self._usage_day:
                self._usage_day, self._usage = day, 0
            self._usage += 1
            self._unflushed += 1
            usage, flush = self._usage, self._unflushed >= _FLUSH_EVERY
            if flush:
                self._unflushed = 0
        if flush:
            self.store.set_meta(f"api_usage:{day}", str(usage))
        return usage

    @property
    def usage(self) -> int:
        return self._usage

    def reset_usage(self) -> None:
        """Emulator-only: start today's DailyApiRequests count from zero."""
        with self._lock:
            self._usage_day, self._usage, self._unflushed = self._today(), 0, 0
        self.flush()

    def flush(self) -> None:
        self.store.set_meta(f"api_usage:{self._usage_day}", str(self._usage))
