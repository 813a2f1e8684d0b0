"""Template context shared by every page of the console."""
from __future__ import annotations

from django.http import HttpRequest

from connectors.version import product_version


def product(request: HttpRequest) -> dict[str, str]:
    """`product_version` for the footer of base.html."""
    return {"product_version": product_version()}
