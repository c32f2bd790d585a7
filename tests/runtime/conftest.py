"""Builds the runtime with the hand-written tiny model (tiny_model.c) once per test session."""
import struct
from pathlib import Path

import pytest

from lpfc.codegen.toolchain import compile_executable, compile_shared, find_toolchain

HERE = Path(__file__).parent
TINY_MODEL = HERE / "tiny_model.c"
DRIVER = HERE / "driver.c"
HEADER_CHECK = HERE / "header_check.cc"
STRICT = ["-Wpedantic", "-Wshadow", "-Wconversion"]
BIAS = [0.5 * (i + 1) for i in range(6)]  # driver.c and the ctypes tests expect these values


def write_bias(directory: Path) -> Path:
    path = directory / "bias.bin"
    path.write_bytes(struct.pack("<6f", *BIAS))
    return path


def tiny_defines(bias: Path) -> dict:
    # The path ends up in an assembler string: keep test paths free of quotes and backslashes.
    assert '"' not in str(bias) and "\\" not in str(bias)
    return {"TINY_BIAS_PATH": f'"{bias}"'}


def build_tiny(toolchain, directory: Path, suffix: str = "", sanitize=()):
    """Builds libtiny<suffix>.so and the driver linked against it; returns (library, driver)."""
    directory.mkdir(parents=True, exist_ok=True)
    bias = write_bias(directory)
    # header_check.cc includes the runtime headers as generated C++ will; STRICT holds every file to more
    # than -Wall -Wextra -Werror.
    lib = compile_shared(toolchain, [TINY_MODEL, HEADER_CHECK], directory / f"libtiny{suffix}.so", STRICT,
                         defines=tiny_defines(bias), sanitize=sanitize)
    driver = compile_executable(toolchain, [DRIVER], directory / f"driver{suffix}", STRICT, sanitize=sanitize,
                                link_flags=[str(lib), f"-Wl,-rpath,{directory}"])
    return lib, driver


@pytest.fixture(scope="session")
def host_toolchain():
    return find_toolchain("host")


@pytest.fixture(scope="session")
def tiny_host(host_toolchain, tmp_path_factory):
    return build_tiny(host_toolchain, tmp_path_factory.mktemp("tiny-host"))
