"""Migration 0013 on an installation from before roles: its staff users keep what they could do
(they join Operators); superusers and other users join nothing."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from connectors.roles import OPERATORS, VIEWERS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("latest_schema_after")]
BEFORE, ROLES = ("connectors", "0014_capture_mode_help_text"), ("connectors", "0015_roles_audit")


def migrate_to(target: tuple[str, str]) -> None:
    MigrationExecutor(connection).migrate([target])


def test_staff_users_of_an_upgraded_installation_become_operators():
    migrate_to(BEFORE)
    users = get_user_model().objects  # auth's tables are the same before and after
    users.create(username="ops", is_staff=True)
    users.create(username="root", is_staff=True, is_superuser=True)
    users.create(username="reader")
    migrate_to(ROLES)
    operators = Group.objects.get(name=OPERATORS)
    assert sorted(operators.user_set.values_list("username", flat=True)) == ["ops"]


def test_a_role_group_deleted_by_mistake_comes_back_with_the_next_migrate_and_a_changed_one_stays():
    Group.objects.filter(name=OPERATORS).delete()
    Group.objects.get(name=VIEWERS).permissions.remove(Permission.objects.get(codename="view_auditentry"))
    call_command("migrate", verbosity=0)
    permissions = Group.objects.get(name=OPERATORS).permissions.values_list("codename", flat=True)
    assert sorted(permissions) == ["operate_sync", "view_auditentry", "view_console"]
    assert list(Group.objects.get(name=VIEWERS).permissions.values_list("codename", flat=True)) == ["view_console"]
