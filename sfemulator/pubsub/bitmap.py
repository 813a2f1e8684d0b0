"""The field bitmaps of ``ChangeEventHeader.changedFields`` / ``nulledFields`` / ``diffFields``.

As on a real org (see "Event Deserialization Considerations" in the Pub/Sub
API guide): the first entry is ``0x`` + hex of an integer whose bit *i* marks
top-level Avro field *i* (``ChangeEventHeader`` is bit 0); a change inside a
compound field adds an entry ``"<parent position>-0x<hex>"`` whose bits index
the compound record's own fields.  Hex is written in whole bytes.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def to_hex(positions: Iterable[int]) -> str:
    bits = 0
    for p in positions:
        bits |= 1 << p
    width = max(1, (bits.bit_length() + 7) // 8) * 2
    return f"0x{bits:0{width}X}"


def encode(top: Iterable[int], nested: Mapping[int, Iterable[int]] | None = None) -> list[str]:
    """Bitmap entries for top-level positions plus {parent position: child positions}; [] if none."""
    top = list(top)
    nested = {p: list(c) for p, c in (nested or {}).items() if c}
    if not top and not nested:
        return []
    return [to_hex(top), *(f"{p}-{to_hex(c)}" for p, c in sorted(nested.items()))]


def _positions(hex_text: str) -> list[int]:
    bits = int(hex_text, 16)
    return [i for i in range(bits.bit_length()) if bits >> i & 1]


def decode(schema: dict, entries: Sequence[str]) -> list[str]:
    """Field names (``Parent.Child`` for nested ones) of bitmap ``entries`` over an Avro ``schema`` dict."""
    fields = schema["fields"]
    names: list[str] = []
    for entry in entries:
        if entry.startswith("0x"):
            names += [fields[i]["name"] for i in _positions(entry)]
            continue
        parent_pos, _, hex_text = entry.partition("-")
        parent = fields[int(parent_pos)]
        record = next(t for t in parent["type"] if isinstance(t, dict) and t.get("type") == "record")
        names += [f"{parent['name']}.{record['fields'][i]['name']}" for i in _positions(hex_text)]
    return names
