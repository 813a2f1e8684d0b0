"""deploy/ and docs/deploy.md: the systemd units pass `systemd-analyze verify` with their
commands found in an install, every command of the units and the Procfile is one the installed
product accepts (run with `--help` after its options, so a wrong worker kind or flag fails), and
every setting docs/deploy.md names is one syncsite/settings.py reads."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
#: Where the units expect the product (docs/deploy.md installs it there).
INSTALL_BIN = "/opt/sf-mongo-sync/bin/"
#: This interpreter's virtualenv holds the same console scripts (sf-mongo-sync, daphne).
BIN = Path(sys.executable).parent
DEPLOY_DOC = (ROOT / "docs" / "deploy.md").read_text()


def exec_starts(unit: Path) -> list[str]:
    return [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def accepts(command: str) -> str:
    """Run `command --help` from this virtualenv; the help text (fails the test otherwise)."""
    argv = shlex.split(command.replace(INSTALL_BIN, "").replace("$PORT", "8000"))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(BIN / argv[0]), *argv[1:], "--help"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_there_are_units_for_migrations_the_console_capture_apply_and_the_rest():
    assert {unit.name for unit in UNITS} == {
        "sf-mongo-sync-migrate.service", "sf-mongo-sync-web.service", "sf-mongo-sync-capture.service",
        "sf-mongo-sync-apply@.service", "sf-mongo-sync-support.service"}
    assert all(len(exec_starts(unit)) == 1 and exec_starts(unit)[0].startswith(INSTALL_BIN) for unit in UNITS)


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here, so the units cannot be verified")
    for unit in UNITS:  # the same units, pointing at this virtualenv's console scripts
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALL_BIN, f"{BIN}/"))
    done = subprocess.run([analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "is not executable" not in done.stderr


@pytest.mark.parametrize("command", [c for unit in UNITS for c in exec_starts(unit)] + list(procfile().values()))
def test_every_command_is_one_the_product_accepts(command):
    assert "usage:" in accepts(command)


def test_capture_and_apply_processes_split_the_worker_kinds_between_them():
    """Together the Procfile's worker processes run every worker kind, each kind in one of them."""
    from connectors.workers.registry import WORKER_KINDS

    kinds = [re.findall(r"--only ([a-z-]+)", command) for command in procfile().values()]
    flat = [kind for found in kinds for kind in found]
    assert sorted(flat) == sorted(WORKER_KINDS)


def test_every_setting_deploy_md_names_is_read_by_the_settings():
    settings = (ROOT / "syncsite" / "settings.py").read_text()
    prefixes = "SYNC_|KAFKA_|MONGODB_|SF_|DATABASE_|FIELD_|SECRET_|ALLOWED_|CSRF_|LOG_"
    named = set(re.findall(rf"^((?:{prefixes})[A-Z0-9_]+)=", DEPLOY_DOC, re.M))  # the env file
    named |= set(re.findall(rf"`((?:{prefixes})[A-Z0-9_]*[A-Z0-9])(?:=[^`]*)?`", DEPLOY_DOC))
    assert len(named) > 10
    assert sorted(name for name in named if f'"{name}"' not in settings) == []


def _rotation_snippet() -> str:
    """The re-save command docs/deploy.md gives for a key rotation, as written there."""
    block = re.search(r'sf-mongo-sync shell -c "(.+?)"\n', DEPLOY_DOC, re.S)
    assert block, "docs/deploy.md lost its re-save command"
    return "\n".join(line.strip() if not line.startswith("      ") else line[2:] for line in block.group(1).split("\n"))


def test_field_encryption_key_rotation_as_deploy_md_says(tmp_path):
    """Secrets written under the old key, re-saved under `new,old` with the doc's command, are read
    with the new key alone; without the re-save they are not."""
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    def shell(keys: str, code: str, database: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "FIELD_ENCRYPTION_KEY": keys, "DATABASE_URL": f"sqlite:///{tmp_path / database}"}
        return subprocess.run([sys.executable, "manage.py", *(["shell", "-c", code] if code else ["migrate", "-v0"])],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)

    write = ("from connectors.models import KafkaCluster, MongoTarget\n"
             "KafkaCluster.objects.create(name='k', bootstrap_servers='b:9093', sasl_password='kafka-secret')\n"
             "MongoTarget.objects.create(name='m', uri='mongodb://u:mongo-secret@h/', database='d')")
    read = ("from connectors.models import KafkaCluster, MongoTarget\n"
            "print(KafkaCluster.objects.get().sasl_password, MongoTarget.objects.get().uri)")
    for database in ("rotated.sqlite3", "not-rotated.sqlite3"):
        assert shell(old, "", database).returncode == 0
        assert shell(old, write, database).returncode == 0
    resaved = shell(f"{new},{old}", _rotation_snippet(), "rotated.sqlite3")
    assert resaved.returncode == 0, resaved.stderr
    after = shell(new, read, "rotated.sqlite3")
    # The last line: Django's shell may first say what it imported.
    assert after.stdout.splitlines()[-1].split() == ["kafka-secret", "mongodb://u:mongo-secret@h/"], after.stderr
    stale = shell(new, read, "not-rotated.sqlite3")
    assert "kafka-secret" not in stale.stdout, stale.stderr


def test_a_secret_no_key_decrypts_is_refused_at_use_and_survives_a_save(tmp_path):
    """The old key dropped before the re-save: Test connection says so (the ciphertext is not sent
    as a password), a save writes the secret back unchanged, and with the old key back it reads."""
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    def shell(keys: str, code: str) -> str:
        env = {**os.environ, "FIELD_ENCRYPTION_KEY": keys, "DATABASE_URL": database}
        done = subprocess.run([sys.executable, "manage.py", *(["shell", "-c", code] if code else ["migrate", "-v0"])],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        return done.stdout

    shell(old, "")
    shell(old, "from connectors.models import KafkaCluster, MongoTarget, SalesforceOrg\n"
               "SalesforceOrg.objects.create(name='o', login_url='https://login.example', password='sf-secret')\n"
               "KafkaCluster.objects.create(name='k', bootstrap_servers='b:9093', sasl_password='kafka-secret')\n"
               "MongoTarget.objects.create(name='m', uri='mongodb://u:mongo-secret@h/', database='d')")
    checks = shell(new, "from connectors.models import KafkaCluster, MongoTarget, SalesforceOrg\n"
                        "from connectors.operations.connection_check import (\n"
                        "    check_kafka, check_mongo, check_salesforce)\n"
                        "print(check_salesforce(SalesforceOrg.objects.get()))\n"
                        "print(check_kafka(KafkaCluster.objects.get()))\n"
                        "print(check_mongo(MongoTarget.objects.get()))")
    assert checks.count("(False, ") == 3, checks
    for what in ("password of Salesforce org o", "SASL password of Kafka cluster k", "MongoDB connection URI"):
        assert f"{what} cannot be decrypted with any key in FIELD_ENCRYPTION_KEY" in checks, checks
    shell(new, _rotation_snippet())  # saved while unreadable
    read = shell(f"{new},{old}", "from connectors.models import KafkaCluster, MongoTarget, SalesforceOrg\n"
                                 "print(SalesforceOrg.objects.get().password, KafkaCluster.objects.get().sasl_password,"
                                 " MongoTarget.objects.get().uri)")
    assert read.splitlines()[-1].split() == ["sf-secret", "kafka-secret", "mongodb://u:mongo-secret@h/"]
