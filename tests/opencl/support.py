"""The one check the OpenCL tests share: a toolchain and a device, or a loud skip saying which is missing."""
import pytest

from lpfc.codegen.toolchain import find_toolchain, opencl_devices
from lpfc.errors import ToolchainError


def opencl_or_skip():
    """The opencl toolchain, if it can run on a device here; else pytest.skip with the reason."""
    try:
        tc = find_toolchain("opencl")
        devices = opencl_devices(tc) if tc.can_run else []
    except ToolchainError as e:
        pytest.skip(f"NO OPENCL: {e}")
    if not devices:
        pytest.skip(f"NO OPENCL DEVICE: {tc.run_problem or 'the ICD loader lists no device'}")
    return tc
