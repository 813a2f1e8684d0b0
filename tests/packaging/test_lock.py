"""The locks (requirements/, written by scripts/lock.sh): every distribution pinned with its
hashes, every pin of pyproject.toml honoured, no index URL of this machine written in, wheels
for each Python the project supports, and the test environment built from the lock as the
README's commands build it (scripts/venv.sh)."""
from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.packaging.test_wheel import _run

ROOT = Path(__file__).resolve().parents[2]
CORE_LOCK = ROOT / "requirements" / "lock-core.txt"
DEV_LOCK = ROOT / "requirements" / "lock-embedded-dev.txt"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]


def read_lock(path: Path) -> list[Pin]:
    """The lock's entries: `name==version [; marker] \\` followed by `--hash=...` lines."""
    pins: list[Pin] = []
    text = re.sub(r"\s*\\\n\s*", " ", path.read_text())  # join continuation lines
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"{path.name}: an option line ({line!r}) would tie the lock to an index"
        requirement, *hashes = line.split(" --hash=")
        parsed = Requirement(requirement)
        (spec,) = parsed.specifier
        assert spec.operator == "==", f"{path.name}: {requirement} is not an exact pin"
        pins.append(Pin(canonicalize_name(parsed.name), spec.version, parsed.marker, tuple(hashes)))
    return pins


def _applies(pin: Pin) -> bool:
    return pin.marker is None or pin.marker.evaluate()


@pytest.mark.parametrize(("lock", "groups"), [(CORE_LOCK, ()), (DEV_LOCK, ("embedded", "dev"))],
                         ids=["core", "embedded-dev"])
def test_each_lock_pins_every_distribution_with_hashes_and_honours_pyproject(lock, groups):
    pins = read_lock(lock)
    assert len(pins) > 50  # the transitive closure, not only the ~20 direct dependencies
    assert [pin.name for pin in pins if not pin.hashes] == []
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for pin in pins for h in pin.hashes)
    assert not re.search(r"file:|https?://|/opt/", lock.read_text())  # works on any machine's index
    locked = {pin.name: pin.version for pin in pins if _applies(pin)}
    declared = [Requirement(spec) for spec in PROJECT["dependencies"]]
    declared += [Requirement(spec) for group in groups for spec in PROJECT["optional-dependencies"][group]]
    unmet = [str(req) for req in declared
             if not req.specifier.contains(locked.get(canonicalize_name(req.name), "0"), prereleases=True)]
    assert unmet == [], f"pyproject.toml changed: run scripts/lock.sh ({unmet})"


def test_the_core_lock_is_the_dev_lock_without_the_extras():
    """Production runs the versions that the tests ran: no distribution of the core lock is at
    another version in the dev lock."""
    dev: dict[str, set[str]] = {}
    for pin in read_lock(DEV_LOCK):
        dev.setdefault(pin.name, set()).add(pin.version)
    differ = [(pin.name, pin.version, dev.get(pin.name)) for pin in read_lock(CORE_LOCK)
              if pin.version not in dev.get(pin.name, set())]
    assert differ == []
    embedded = {canonicalize_name(Requirement(s).name) for s in PROJECT["optional-dependencies"]["embedded"]}
    assert embedded & {pin.name for pin in read_lock(CORE_LOCK)} == set()


def test_this_environment_was_installed_from_the_dev_lock():
    """scripts/venv.sh installs exactly the lock (with --require-hashes), then the project."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("not in a virtualenv, so not one that scripts/venv.sh made")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    differ = {pin.name: (pin.version, installed.get(pin.name)) for pin in read_lock(DEV_LOCK)
              if _applies(pin) and installed.get(pin.name) != pin.version}
    assert differ == {}, "(locked, installed); run scripts/venv.sh again"


@pytest.mark.parametrize("python", SUPPORTED_PYTHONS)
def test_every_locked_distribution_has_a_wheel_for_each_supported_python(python):
    """Only 3.11 runs the tests here; for 3.12 and 3.13 the index must hold a wheel of every
    locked version (no build from source on an install), which uv checks without that Python."""
    assert PROJECT["requires-python"] == ">=3.11,<3.14"
    assert f"Programming Language :: Python :: {python}" in PROJECT["classifiers"]
    uv = Path(sys.executable).parent / "uv"
    _run([str(uv), "pip", "compile", str(DEV_LOCK), "--python-version", python, "--python-platform",
          "x86_64-manylinux_2_28", "--only-binary", ":all:", "--no-deps", "--quiet", "-o", "/dev/null"],
         uses_index=True)
