"""Builds an ONNX file with TVM: Relax ONNX frontend, the default pipeline, no tuning (peer venv).

    python -m bench.runners.tvm_build MODEL.onnx OUT.so
"""
from __future__ import annotations

import json
import sys
import time


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    import onnx
    import tvm
    from tvm.relax.frontend.onnx import from_onnx

    t0 = time.perf_counter()
    mod = from_onnx(onnx.load(src), keep_params_in_input=False)
    t_import = time.perf_counter() - t0
    cpu = tvm.target.codegen.llvm_get_system_cpu()
    target = tvm.target.Target({"kind": "llvm", "mcpu": cpu})
    t0 = time.perf_counter()
    ex = tvm.compile(mod, target=target)
    ex.export_library(out)
    print(json.dumps({"import_s": t_import, "build_s": time.perf_counter() - t0, "mcpu": cpu,
                      "tvm": tvm.__version__}))


if __name__ == "__main__":
    main()
