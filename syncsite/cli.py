"""`sf-mongo-sync COMMAND ...`: Django's management commands for an installed product.

manage.py stays in the checkout; a wheel installs this as a console script instead, with the
project's settings, so `sf-mongo-sync migrate` is `python manage.py migrate`;
`sf-mongo-sync --version` prints the product's version.
"""
from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:  # Django's would print its own version
        from connectors.version import product_version

        print(product_version())
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
