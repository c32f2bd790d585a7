"""Times a library built by TVM's Relax default pipeline (bench.runners.tvm_build) in the Relax VM."""
from __future__ import annotations

from ._common import load_inputs, measure, parser, set_thread_env


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--input-names", required=True, help="comma-separated, in the order the graph takes them")
    args = ap.parse_args()
    set_thread_env(args.threads)  # TVM's thread pool reads TVM_NUM_THREADS when it starts
    import tvm
    from tvm import relax

    lib = tvm.runtime.load_module(args.artifact)
    vm = relax.VirtualMachine(lib, tvm.cpu())
    feeds = load_inputs(args.inputs)
    to_dev = tvm.runtime.tensor if hasattr(tvm.runtime, "tensor") else tvm.nd.array
    inputs = [to_dev(feeds[n]) for n in args.input_names.split(",")]
    main_fn = vm["main"]

    def call():
        out = main_fn(*inputs)
        if hasattr(out, "numpy"):
            return [out.numpy()]
        return [o.numpy() for o in out]

    measure(call, args, {"version": tvm.__version__})


if __name__ == "__main__":
    main()
