"""One version, the installed package's, reported by /api/v1/health, the console's footer and
`runconsumers --version` (tests/packaging/test_wheel.py checks the last two from a wheel)."""
from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from connectors.version import product_version
from dashboard.models import ApiToken
from tests.dashboard.roles import OPERATORS, user_with_role

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_the_installed_packages():
    assert product_version() == metadata.version("sf-mongo-sync")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", product_version())


@pytest.mark.django_db
def test_health_and_the_console_report_it_to_staff(client):
    staff = user_with_role("ops", OPERATORS)
    token = ApiToken.issue(staff, "monitor")[1]
    health = client.get("/api/v1/health", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert health == {"detail": "ok", "version": product_version()}
    assert "product-version" not in client.get("/accounts/login/").content.decode()  # signed-in users only
    client.force_login(staff)
    page = client.get("/").content.decode()
    assert f'<span id="product-version">sf-mongo-sync {product_version()}</span>' in page


def test_runconsumers_reports_it_rather_than_djangos():
    done = subprocess.run([sys.executable, "manage.py", "runconsumers", "--version"], cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == product_version()
