"""The licence of every distribution installed in the running Python environment.

Run with the Python of a core-only install (tests/packaging/test_wheel.py does) to print the
first table of docs/licenses.md: `python tests/packaging/licenses.py`; with `--extras`, in the
development virtualenv, the table of the extras. Standard library only, so that it runs in an
environment holding nothing but the product and its dependencies.
"""
from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

#: Installed by `python -m venv` itself, not by the product.
INSTALLER_TOOLS = frozenset({"pip", "setuptools", "wheel"})

# Strong copyleft (GPL, AGPL) but not the Lesser/Library GPL, whose terms allow linking.
# ("LGPL" has no word boundary before its "GPL"; "GNU Lesser General ..." does not match.)
_STRONG_COPYLEFT = re.compile(r"\bA?GPL|GNU (Affero )?General Public License", re.I)


def licence_of(dist: metadata.Distribution) -> str:
    """The SPDX expression when the package declares one, else its licence classifiers, else
    the first line of its free-text `License` field ("unknown" when it says nothing)."""
    meta = dist.metadata
    if expression := meta.get("License-Expression"):
        return expression.strip()
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return " / ".join(classifiers)
    text = (meta.get("License") or "").strip()
    return text.splitlines()[0][:60] if text else "unknown"


def is_strong_copyleft(licence: str) -> bool:
    return bool(_STRONG_COPYLEFT.search(licence))


def installed() -> list[tuple[str, str, str]]:
    """(name, version, licence) of every installed distribution but the installer's own tools,
    sorted by name."""
    rows = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name.lower() not in INSTALLER_TOOLS:
            rows[name.lower()] = (name, dist.version, licence_of(dist))
    return [rows[key] for key in sorted(rows)]


def extras() -> list[tuple[str, str, str]]:
    """(extra, name, licence) of each distribution that an extra of pyproject.toml names
    (installed here, as in the development virtualenv)."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    rows = []
    for extra, specs in declared.items():
        for spec in specs:
            dist = metadata.distribution(re.split(r"[=<>\[; ]", spec)[0])
            rows.append((extra, dist.metadata["Name"], licence_of(dist)))
    return rows


def markdown_table(header: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--extras"]:
        print(markdown_table(("extra", "package", "licence"), extras()))
    else:
        print(markdown_table(("package", "version", "licence"), installed()))
