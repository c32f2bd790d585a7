"""A model whose node and tensor names are hostile to C (*/, quotes, newlines, #include, trigraphs)
compiles into correct code, with and without fusion, and its header compiles in C99 and C++."""
import numpy as np
import pytest

import lpfc
from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program

from . import hostile_model


@pytest.mark.parametrize("fusion", [True, False], ids=["fused", "no-fusion"])
def test_hostile_names_compile_and_run(hostile_libs, fusion):
    result = hostile_libs[fusion]
    sess = lpfc.load(result.library)
    assert [i.name for i in sess.get_inputs()] == [hostile_model.INPUT]
    assert [o.name for o in sess.get_outputs()] == [hostile_model.OUTPUT]
    x = np.random.default_rng(3).standard_normal((2, 8)).astype(np.float32)
    y = sess.run({hostile_model.INPUT: x})[hostile_model.OUTPUT]
    np.testing.assert_allclose(y, hostile_model.reference(x), rtol=1e-5, atol=1e-5)
    # No model string appears in the generated source unescaped.
    for p in result.source_dir.glob("*.cc"):
        text = p.read_text()
        for name in hostile_model.NAMES + [hostile_model.INPUT, hostile_model.OUTPUT]:
            if '"' in name or "\n" in name:
                assert name not in text, (p.name, name)
        assert "\n#define float int" not in text and '#include "evil.h"' not in text


@pytest.mark.parametrize("lang", ["c", "c++"])
def test_hostile_header_compiles(hostile_libs, tmp_path, lang):
    result = hostile_libs[True]
    src = tmp_path / ("use.c" if lang == "c" else "use.cc")
    src.write_text('#include <string.h>\n#include "libmodel.h"\n'
                   "static const char *const names[MODEL_NUM_INPUTS] = MODEL_INPUT_NAMES;\n"
                   "int main(void) { return strcmp(names[0], MODEL_INPUT_0_NAME) != 0 || "
                   "MODEL_INPUT_0_SIZE_BYTES != 64u; }\n")
    tc = find_toolchain("host")
    exe = compile_executable(tc, [src], tmp_path / "use", ["-Wpedantic", "-Wtrigraphs"],
                             include_dirs=[result.header.parent])
    assert run_program(tc, [exe]).returncode == 0
