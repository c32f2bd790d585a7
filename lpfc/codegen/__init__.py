"""Code generation: from scheduled kernels to a self-contained native library.

What is here so far (the target-independent foundations; see ``docs/runtime.md``):

* :mod:`.memory_plan` - the static memory plan: intermediate tensors -> offsets in one arena.
* :mod:`.targets` - the targets (host, arm64-linux, arm64-android, opencl), described.
* :mod:`.toolchain` - finding each target's compiler, building ``.so`` files with the C runtime
  of ``lpfc/c_runtime/``, running the results (natively or under qemu).
"""
from .memory_plan import ArenaPlan, Buffer, FunctionMemoryPlan, plan_arena, plan_function
from .targets import TARGET_NAMES, Target, get_target
from .toolchain import (CompileError, Toolchain, compile_executable, compile_shared, find_toolchain, list_targets,
                        run_program)

__all__ = ["ArenaPlan", "Buffer", "CompileError", "FunctionMemoryPlan", "TARGET_NAMES", "Target", "Toolchain",
           "compile_executable", "compile_shared", "find_toolchain", "get_target", "list_targets", "plan_arena",
           "plan_function", "run_program"]
