"""The static checks `.ci/run` runs before the tests (scripts/lint.sh): the tree is ruff-clean
under the project's configuration, and a finding fails the check."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = [sys.executable, "-m", "ruff", "check"]


def test_the_tree_has_no_ruff_finding():
    result = subprocess.run([*RUFF, "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout


def test_a_finding_fails_the_check(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef pairs(a, b):\n    return list(zip(a, b))\n")
    result = subprocess.run([*RUFF, "--config", str(ROOT / "pyproject.toml"), str(bad)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "F401" in result.stdout and "B905" in result.stdout  # pyflakes and bugbear are on


def test_ci_runs_the_lint_before_the_tests():
    steps = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line.startswith(("bash", "exec"))]
    assert steps[0].startswith("bash scripts/lint.sh") and steps[-1] == "exec bash scripts/test.sh"
