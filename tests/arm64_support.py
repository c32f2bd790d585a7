"""The arm64 cross toolchain, or a loud skip: the tests that build arm64 libraries and run them under qemu."""
import pytest


def arm64_toolchain_or_skip():
    """The arm64-linux Toolchain when this machine can build and run (under qemu) arm64 programs."""
    from lpfc.codegen.toolchain import find_toolchain
    from lpfc.errors import ToolchainError

    try:
        tc = find_toolchain("arm64-linux")
    except ToolchainError as e:
        pytest.skip(f"NO ARM64 CROSS COMPILER: {e}")
    if tc.runner is None:
        pytest.skip(f"CANNOT RUN ARM64 HERE: {tc.run_problem}")
    return tc
