"""Model strings reach generated C only as escaped literals that mean exactly their bytes."""
import random

import pytest

from lpfc.codegen.model_gen import c_comment, c_identifier, c_string
from lpfc.codegen.toolchain import compile_executable, find_toolchain, run_program
from lpfc.errors import UnsupportedError

HOSTILE = ['*/', '/*', '"', '\\', '\\"', '\n#include <stdio.h>\n', '??=', '??/', '??/\n', "'", '\x01\x7f',
           '\u00e9\u4e2d\U0001F600', '\\x41BC', '\t\r\v\f', '%s%n', '"); abort(); ("', '', ' ', '0', '\\0']


def _random_strings(n=60, seed=0):
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(1, 128)] + ['\u00e9', '\u4e2d', '\U0001F600']
    return [''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(n)]


def test_c_string_round_trips_through_c_and_cpp(tmp_path):
    strings = HOSTILE + _random_strings()
    lits = ",\n".join(c_string(s) for s in strings)
    for lang, ext, std in (("c", ".c", "-std=c99"), ("c++", ".cc", None)):
        src = tmp_path / f"lits{ext}"
        src.write_text("#include <stdio.h>\n#include <string.h>\n"
                       f"static const char *const S[] = {{\n{lits}\n}};\n"
                       "int main(void) { size_t i, k; for (i = 0; i < sizeof S / sizeof S[0]; ++i) {"
                       " for (k = 0; k < strlen(S[i]); ++k) printf(\"%02x\", (unsigned char)S[i][k]);"
                       " printf(\"\\n\"); } return 0; }\n")
        tc = find_toolchain("host")
        exe = compile_executable(tc, [src], tmp_path / f"lits-{ext[1:]}", ["-Wpedantic", "-Wtrigraphs"])
        r = run_program(tc, [exe])
        assert r.returncode == 0, r.stderr
        got = [bytes.fromhex(line).decode("utf-8") for line in r.stdout.split("\n")[:len(strings)]]
        assert got == strings


def test_c_string_refuses_nul():
    with pytest.raises(UnsupportedError, match="NUL"):
        c_string("a\0b")


def test_c_comment_and_identifier():
    for s in HOSTILE:
        c = c_comment(s)
        assert "*/" not in c and "/*" not in c and "\n" not in c and "\\" not in c
    assert c_identifier("libmy-model.v2") == "libmy_model_v2"
    assert c_identifier("9x") == "m_9x"
    assert c_identifier("*/") == "model"
