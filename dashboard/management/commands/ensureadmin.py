"""python manage.py ensureadmin: a staff superuser for the console, with a password that is kept."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the console's admin user if missing; print the login."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password-file", type=Path, required=True,
                            help="Where the generated password is kept (created with mode 600).")

    def handle(self, *args: Any, username: str, password_file: Path, **options: Any) -> None:
        user_model = get_user_model()
        if password_file.exists() and user_model.objects.filter(username=username).exists():
            password = password_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
            user, _ = user_model.objects.get_or_create(username=username)
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
        self.stdout.write(f"login: {username} / {password}")
