"""A stored secret that no key in FIELD_ENCRYPTION_KEY decrypts, and the guard at every door
where a secret leaves the process. Kept apart from the models so the adapters can check it
without importing Django."""
from __future__ import annotations


class UnreadableSecret(str):
    """The ciphertext of a secret whose key was dropped from FIELD_ENCRYPTION_KEY. Saving the row
    writes it back unchanged (not encrypted a second time); it is never sent anywhere."""


class UnreadableSecretError(ValueError):
    pass


def readable(value: str, what: str) -> str:
    """`value`, or a clear error when it is a secret this installation cannot decrypt."""
    if isinstance(value, UnreadableSecret):
        raise UnreadableSecretError(
            f"{what} cannot be decrypted with any key in FIELD_ENCRYPTION_KEY: put back the key that "
            "encrypted it (FIELD_ENCRYPTION_KEY=new,old) or enter the secret again in the admin")
    return value
