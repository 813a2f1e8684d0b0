"""Salesforce record Ids: base-62 generation and the case-safe checksum.

An 18-char Id is ``<3-char key prefix><3-char pod><9-char base-62 counter>``
followed by Salesforce's 3-char case-safe suffix.  The suffix encodes, per
5-char chunk of the 15-char Id, which characters are upper-case letters
(bit *i* set when character *i* of the chunk is A-Z), mapped through
``ABCDEFGHIJKLMNOPQRSTUVWXYZ012345``.
"""
from __future__ import annotations

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
#: The emulated pod/instance part of every Id minted here.
POD = "Hn0"
_COUNTER_WIDTH = 9


def checksum(id15: str) -> str:
    """Return the 3-char case-safe suffix for a 15-char Id."""
    out = []
    for chunk in range(3):
        bits = 0
        for pos in range(5):
            ch = id15[chunk * 5 + pos]
            if "A" <= ch <= "Z":
                bits |= 1 << pos
        out.append(_SUFFIX_ALPHABET[bits])
    return "".join(out)


def to_base62(n: int, width: int = _COUNTER_WIDTH) -> str:
    """Fixed-width base-62 (digits, upper, lower: ASCII order == numeric order)."""
    if n < 0 or n >= 62**width:
        raise ValueError(f"counter {n} out of range")
    chars = []
    for _ in range(width):
        n, rem = divmod(n, 62)
        chars.append(BASE62[rem])
    return "".join(reversed(chars))


def make_id(key_prefix: str, counter: int) -> str:
    """Mint the 18-char Id for ``counter`` within ``key_prefix``."""
    id15 = key_prefix + POD + to_base62(counter)
    return id15 + checksum(id15)


def normalize(value: object) -> str | None:
    """Return the canonical 18-char Id for a 15- or 18-char Id, else None.

    18-char Ids are case-insensitive by design: the suffix tells which
    letters are upper case, so ``001hn...aaa`` resolves to ``001Hn...AAA``.
    """
    if not isinstance(value, str) or len(value) not in (15, 18) or not value.isalnum() or not value.isascii():
        return None
    if len(value) == 15:
        return value + checksum(value)
    suffix = value[15:].upper()
    chars = list(value[:15])
    for chunk, sch in enumerate(suffix):
        idx = _SUFFIX_ALPHABET.find(sch)
        if idx < 0:
            return None
        for pos in range(5):
            i = chunk * 5 + pos
            chars[i] = chars[i].upper() if idx & (1 << pos) else chars[i].lower()
    id15 = "".join(chars)
    # A letter flagged upper that is actually a digit (or vice versa) means a bad suffix.
    if checksum(id15) != suffix:
        return None
    return id15 + suffix


ORG_ID = make_id("00D", 1)
ADMIN_USER_ID = make_id("005", 1)
