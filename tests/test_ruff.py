"""ruff over lpfc/ with the rules in pyproject.toml ([tool.ruff]; issue #11 item 6).

The rules are ruff's default set plus invalid escapes and a complexity limit (C901, max-complexity
25). Today's offenders are listed by file in ``[tool.ruff.lint.per-file-ignores]``; that list only
shrinks: an entry whose file would now pass without it fails here, so it gets deleted with the fix.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401  (the wheel ships the binary; `python -m ruff` runs it)
    except ImportError:
        pytest.skip("ruff is not installed: pip install ruff (it is in the `test` extra) to lint lpfc/")
    return [sys.executable, "-m", "ruff"]


def _check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_ruff(), "check", "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _config() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11+)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]


def test_lpfc_passes_ruff():
    r = _check("lpfc")
    assert r.returncode == 0, f"ruff check lpfc (rules: pyproject.toml [tool.ruff]):\n{r.stdout}{r.stderr}"


def test_the_rules_catch_what_they_name(tmp_path):
    # The repository's config applied to a file with one defect per rule family: each must be reported.
    bad = tmp_path / "bad.py"
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(30))
    bad.write_text(f"import os\n\n\ndef f(x):\n{branches}\n    return '\\d'\n")
    r = _check("--config", str(ROOT / "pyproject.toml"), "--output-format", "concise", str(bad))
    codes = {line.split(" ")[1] for line in r.stdout.splitlines() if line.startswith(str(bad))}
    assert {"F401", "C901", "W605"} <= codes, r.stdout + r.stderr


def test_every_listed_offender_still_offends():
    lint = _config()["lint"]
    limit = lint["mccabe"]["max-complexity"]
    for path, codes in lint["per-file-ignores"].items():
        assert (ROOT / path).is_file(), f"per-file-ignores names {path}, which does not exist: delete the entry"
        for code in codes:
            r = _check("--isolated", "--select", code, "--config", f"lint.mccabe.max-complexity={limit}", path)
            assert r.returncode == 1, (f"{path} passes {code} now: delete it from [tool.ruff.lint.per-file-ignores] "
                                       "in pyproject.toml (the list only shrinks)")
