"""The README's main job (`make demo` runs examples/minilm_demo.py): it must keep working as lpfc changes.
(It broke once when `-o` stopped creating directories and nothing ran it.)"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.zoo
def test_the_demo_compiles_minilm_and_matches_onnxruntime(tmp_path):
    out = tmp_path / "not-yet" / "libminilm.so"   # a directory the demo has to make itself
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "minilm_demo.py"), "-o", str(out)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "OK: the compiled model matches onnxruntime" in r.stdout, r.stdout
    assert out.is_file() and out.with_suffix(".h").is_file()
