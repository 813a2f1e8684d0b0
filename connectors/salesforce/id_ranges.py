"""Splitting an object's Id space into key ranges, the way Salesforce's PK chunking does.

A Salesforce Id is a 3-character key prefix (the object) and 12 base-62 characters, then a
3-character case-safe suffix. The base-62 alphabet is in ASCII order (digits, upper case,
lower case), so Ids of one object sort as their numbers do, and a boundary can be computed
without reading the records: PK chunking adds `Id >= a AND Id < b` to a query with `b` as `a`
plus the chunk size in base 62 (Bulk API developer guide, "PK Chunking"). Here the span between
the object's first and last Id is cut into equal widths, so a range holds about as many
records as another wherever the Ids were minted in order; a range may be emptier where records
were deleted, as PK chunking's chunks may.
"""
from __future__ import annotations

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_PREFIX, _DIGITS = 3, 12


def _number(record_id: str) -> int:
    value = 0
    for char in record_id[_PREFIX:_PREFIX + _DIGITS]:
        value = value * 62 + BASE62.index(char)
    return value


def _case_suffix(id15: str) -> str:
    """Salesforce's 3-character suffix: which characters of each 5 are upper-case letters."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << pos for pos in range(5) if "A" <= id15[chunk * 5 + pos] <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def _record_id(prefix: str, number: int) -> str:
    digits = ""
    for _ in range(_DIGITS):
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    id15 = prefix + digits
    return id15 + _case_suffix(id15)


def boundaries(first_id: str, last_id: str, ranges: int) -> list[str]:
    """The 18-character Ids that cut [first_id, last_id] into `ranges` ranges of equal width:
    ascending, distinct, each above first_id and below last_id (fewer where the span is narrow).
    Range k holds the Ids after boundary k-1 up to boundary k; the first has no lower bound
    and the last no upper one."""
    if first_id[:_PREFIX] != last_id[:_PREFIX]:
        raise ValueError(f"{first_id} and {last_id} are Ids of different objects")
    low, high = _number(first_id), _number(last_id)
    cuts = sorted({low + (high - low) * k // ranges for k in range(1, ranges)} - {low, high})
    return [_record_id(first_id[:_PREFIX], cut) for cut in cuts]
