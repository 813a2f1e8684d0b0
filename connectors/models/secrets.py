"""Encrypted secret fields that never turn an undecryptable value into a silent one.

django-encrypted-model-fields hands back the ciphertext itself when no configured key decrypts a
stored value (the old key dropped before the rows were re-saved): it would then be sent as a
password, and a save would encrypt the ciphertext again, losing the secret for good. These fields
hand back an UnreadableSecret instead, which is written back as it was and refused at use."""
from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from encrypted_model_fields.fields import EncryptedCharField, EncryptedTextField, decrypt_str

from connectors.secret_value import UnreadableSecret


class _ReadableOrMarked:
    def from_db_value(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        if not value:
            return value
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        try:
            return decrypt_str(text)
        except InvalidToken:
            return UnreadableSecret(text)

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if isinstance(value, UnreadableSecret):
            return str(value)
        return super().get_db_prep_save(value, connection)  # type: ignore[misc]


class SecretCharField(_ReadableOrMarked, EncryptedCharField):
    pass


class SecretTextField(_ReadableOrMarked, EncryptedTextField):
    pass
