"""Websocket URL patterns (the live console arrives with the console issue)."""
from __future__ import annotations

websocket_urlpatterns: list = []
