"""The three roles of the product as Django groups: Viewers, Operators and Admins.

Each role holds the one below it: a viewer reads the console, the REST API and the live status;
an operator also pauses, resumes, backfills, reconciles, resolves conflicts and retries or
discards errors; an admin also edits connections and mappings in the admin (which Django opens
to users with "Staff status" only). Superusers hold every permission.

The groups are created by migration 0013 (which also puts the staff users of an upgraded
installation into Operators, the rights they had before roles existed) and again after every
`migrate` or test-database flush when missing (`ensure_role_groups`, from post_migrate). A group
that exists is left as it is, so an administrator may change what it holds.
"""
from __future__ import annotations

from typing import Any

APP = "connectors"
VIEW_CONSOLE = f"{APP}.view_console"
OPERATE_SYNC = f"{APP}.operate_sync"

VIEWERS, OPERATORS, ADMINS = "Viewers", "Operators", "Admins"

#: The models an admin edits: connections, mappings and their field mappings, event relays.
_EDITED_BY_ADMINS = ("salesforceorg", "kafkacluster", "mongotarget", "objectmapping", "fieldmapping", "eventrelay")
_VIEWER_CODENAMES = ("view_console", "view_auditentry")
_OPERATOR_CODENAMES = (*_VIEWER_CODENAMES, "operate_sync")
_ADMIN_CODENAMES = (
    *_OPERATOR_CODENAMES,
    *(f"{verb}_{model}" for model in _EDITED_BY_ADMINS for verb in ("view", "add", "change", "delete")),
    "view_schemadrift", "change_schemadrift",
)

#: Role -> the codenames (all in the connectors app) its group holds.
ROLES: dict[str, tuple[str, ...]] = {
    VIEWERS: _VIEWER_CODENAMES,
    OPERATORS: _OPERATOR_CODENAMES,
    ADMINS: _ADMIN_CODENAMES,
}


def ensure_role_groups(group_model: Any, permission_model: Any) -> list[str]:
    """Create each missing role group with its permissions; returns the names created.

    Takes the models as arguments so that a migration can pass its historical ones. The
    permissions must exist already (Django creates them after migrating).
    """
    created = []
    for name, codenames in ROLES.items():
        group, new = group_model.objects.get_or_create(name=name)
        if new:
            permissions = permission_model.objects.filter(content_type__app_label=APP, codename__in=codenames)
            group.permissions.set(permissions)
            created.append(name)
    return created


def on_post_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate receiver for the connectors app (its permissions exist by then)."""
    from django.contrib.auth.models import Group, Permission

    ensure_role_groups(Group, Permission)
