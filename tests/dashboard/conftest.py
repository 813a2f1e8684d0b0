"""Console users for the dashboard tests: a logged-in operator, and a user with no console role."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.dashboard.roles import OPERATORS, user_with_role


@pytest.fixture
def staff(client: Client):  # type: ignore[no-untyped-def]
    """An operator: reads the console and acts on the sync (connectors.roles)."""
    user = user_with_role("operator", OPERATORS, is_staff=True)
    client.force_login(user)
    return user


@pytest.fixture
def no_role(client: Client):  # type: ignore[no-untyped-def]
    """A logged-in user in no role group: refused everywhere (test_roles has the Viewers role)."""
    user = user_with_role("norole", None)
    client.force_login(user)
    return user
