"""sfemulator — an offline emulator of the Salesforce REST/SOAP-login APIs.

Standalone package: serves a demo org over HTTPS so connectors can be developed
and tested without a real Salesforce org. See docs/emulator.md.
"""
from __future__ import annotations

__version__ = "0.1.0"

#: API versions served under /services/data/vXX.X (inclusive range).
MIN_API_VERSION = 31
MAX_API_VERSION = 68  # Winter '27, the current release
