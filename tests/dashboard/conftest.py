"""Console users for the dashboard tests: a logged-in staff member, and a user who is not staff."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def staff(client: Client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("operator", password="pw-operator-1", is_staff=True)
    client.force_login(user)
    return user


@pytest.fixture
def viewer(client: Client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("viewer", password="pw-viewer-1")
    client.force_login(user)
    return user
