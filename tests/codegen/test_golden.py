"""Golden FileCheck tests over emitted kernel code: each tests/codegen/golden/*.mlir holds one kernel op (the
first ``graph.fused`` of its module) and the checks its code must pass, so a change to an emitter shows as a
text diff here.  The first line names the emitter, the target and the choice (JSON), e.g.
``// EMIT: cpp-gemm host {"isa": "avx2"}`` (an explicit ISA: the code does not depend on this machine's CPU).
The kernel's code (``KernelSource.code``, symbol ``k``) is piped into FileCheck (the ``filecheck`` package)
with the file itself as the check file, as in tests/passes/test_lit.py.
"""
import json
import re
from pathlib import Path

import pytest

import lpfc
from lpfc.codegen.emitters import EMITTERS
from lpfc.codegen.targets import get_target

from tests.passes.test_lit import run_filecheck

GOLDEN_DIR = Path(__file__).parent / "golden"


def emit_golden(path: Path):
    text = path.read_text()
    m = re.search(r"^// EMIT: (\S+) (\S+) (.*)$", text, re.M)
    assert m, f"{path.name} has no '// EMIT: EMITTER TARGET CHOICE' line"
    emitter = next(e for e in EMITTERS if e.name == m.group(1))
    target = get_target(m.group(2))
    module = lpfc.parse_module(text)
    op = next(o for o in module.main.ops if o.name == "graph.fused")
    assert emitter.accepts(op, target), f"{emitter.name} declines {path.name}"
    return emitter.emit(op, target, "k", json.loads(m.group(3)) or None)


@pytest.mark.parametrize("path", sorted(GOLDEN_DIR.glob("*.mlir")), ids=lambda p: p.stem)
def test_golden(path):
    run_filecheck(emit_golden(path).code, path)
