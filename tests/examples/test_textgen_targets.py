"""gpt2-tiny's prefill and decode libraries built for arm64-linux (run under qemu through the test driver)
and for opencl (PoCL) generate the same greedy tokens as the host's (slow; skipped loudly without the
toolchain or a device)."""
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from examples.textgen.build import build  # noqa: E402
from examples.textgen.engine import Engine  # noqa: E402
from examples.textgen.sampling import Sampling  # noqa: E402
from lpfc.codegen.toolchain import find_toolchain  # noqa: E402
from lpfc.errors import ToolchainError  # noqa: E402

pytestmark = pytest.mark.slow
PROMPT, NEW = [72, 101, 108, 108, 111], 12


def _usable(target):
    if target == "opencl":
        from tests.opencl.support import opencl_or_skip
        opencl_or_skip()
        return
    try:
        tc = find_toolchain(target)
    except ToolchainError as e:
        pytest.skip(f"NO {target.upper()} TOOLCHAIN: {e}")
    if not tc.can_run:
        pytest.skip(f"{target.upper()} PROGRAMS CANNOT RUN HERE: {tc.run_problem}")


def _tokens(target):
    eng = Engine.open(build("gpt2-tiny", target=target), "lpfc", threads=2, eos_id=999)
    return list(eng.generate(PROMPT, NEW, Sampling(repetition_penalty=1.3)))


@pytest.mark.parametrize("target", ["arm64-linux", "opencl"])
def test_tiny_generation_on_target_matches_host(target):
    _usable(target)
    assert _tokens(target) == _tokens("host")
