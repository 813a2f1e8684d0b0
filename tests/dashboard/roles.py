"""Users with a console role (connectors.roles), for tests anywhere: `user_with_role("ops", OPERATORS)`,
and a logged-in client or an API token header of one."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from connectors.roles import ADMINS, OPERATORS, VIEWERS
from dashboard.models import ApiToken

__all__ = ["ADMINS", "OPERATORS", "VIEWERS", "bearer_of", "client_of", "user_with_role"]


def user_with_role(username: str, role: str | None, **fields: Any) -> Any:
    """A new user (password `pw-<username>-1`) in the role's group; `role=None` for a user with none."""
    user = get_user_model().objects.create_user(username, password=f"pw-{username}-1", **fields)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def client_of(username: str, role: str | None, **fields: Any) -> Client:
    """A test client logged in as a new user in `role`."""
    client = Client()
    client.force_login(user_with_role(username, role, **fields))
    return client


def bearer_of(username: str, role: str | None) -> dict[str, str]:
    """The `Authorization` header of an API token issued to a new user in `role`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user_with_role(username, role), 'ci')[1]}"}
