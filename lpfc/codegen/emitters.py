"""Imports every kernel emitter module so that each registers itself (see kernel_source.py)."""
from . import cpp_attention, cpp_gemm, cpp_rowwise  # noqa: F401  (lpfc-cpp emitters)
from . import generic  # noqa: F401  (the polyhedral emitter, accepts every op; priority 1000)
from . import ocl_attention, ocl_elementwise, ocl_gemm, ocl_rowwise  # noqa: F401  (OpenCL emitters: the opencl target only)
