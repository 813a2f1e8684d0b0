"""The product's version, read from the installed package's metadata (pyproject.toml's).

The one place the console, `/api/v1/health` and `runconsumers --version` ask; it lives here, at
the bottom of the dependency order, so that the dashboard and the commands may both import it.
"""
from __future__ import annotations

from functools import cache
from importlib import metadata

DISTRIBUTION = "sf-mongo-sync"


@cache
def product_version() -> str:
    """The installed distribution's version, e.g. "0.1.0" (an editable install counts).

    Returns "unknown" when the code runs without being installed at all (a bare checkout on
    PYTHONPATH), rather than failing: the version is shown, never relied on.
    """
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
