"""FileCheck tests: each tests/passes/lit/*.mlir file is IR plus the checks its output must pass.

The file's first line names the pipeline, e.g. ``// PIPELINE: cse,dce``; the
IR is parsed, run through the pipeline (verifying after each pass), printed,
and piped into FileCheck (the ``filecheck`` package) with the file itself as
the check file, as LLVM's lit does.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lpfc
from lpfc.passes import Pipeline

LIT_DIR = Path(__file__).parent / "lit"


def run_filecheck(output: str, check_file: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "filecheck", str(check_file)], input=output, text=True,
                          capture_output=True)
    assert proc.returncode == 0, f"FileCheck failed for {check_file.name}:\n{proc.stderr}\n--- output ---\n{output}"


@pytest.mark.parametrize("path", sorted(LIT_DIR.glob("*.mlir")), ids=lambda p: p.stem)
def test_lit(path):
    text = path.read_text()
    m = re.search(r"^// PIPELINE: (.+)$", text, re.M)
    assert m, f"{path.name} has no '// PIPELINE: ...' line"
    module = lpfc.parse_module(text)
    lpfc.verify(module)
    Pipeline.parse(m.group(1)).run(module, verify_each=True)
    run_filecheck(lpfc.print_module(module), path)
