"""Per-user API tokens for the REST API. Only a hash is stored; the token is shown once."""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for.")
    prefix = models.CharField(max_length=8, editable=False, help_text="First characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: object, name: str) -> tuple[ApiToken, str]:
        """Create a token; returns it with the secret, which is not kept anywhere."""
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=secret[:8], token_hash=hash_token(secret))
        return token, secret

    @classmethod
    def user_for(cls, secret: str) -> object | None:
        token = cls.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
        if token is None or not token.user.is_active:
            return None
        cls.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user
