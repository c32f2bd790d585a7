"""Times the zoo model in PyTorch, eager or torch.compile'd (runs in lpfc's venv, which has torch).

The model is rebuilt exactly as the zoo exports it (same class, config, seed and attention code),
so its outputs match the ONNX file's; --artifact is that ONNX file, only for the record.
"""
from __future__ import annotations

from ._common import load_inputs, measure, parser, set_thread_env


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--mode", choices=("eager", "compile"), default="eager")
    ap.add_argument("--variant", default="dynamo20", help="the zoo variant whose attention code to use")
    args = ap.parse_args()
    set_thread_env(args.threads)
    import torch

    from lpfc.testing import zoo

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    spec = zoo.SPECS[args.model]
    module, _ = zoo._build_module(spec, zoo.VARIANTS[args.variant])
    feeds = load_inputs(args.inputs)
    tensors = [torch.from_numpy(feeds[name]) for name in spec.input_names]
    if args.mode == "compile":
        module = torch.compile(module)

    def call():
        with torch.inference_mode():
            return [t.numpy() for t in module(*tensors)]

    measure(call, args, {"version": torch.__version__, "mode": args.mode})


if __name__ == "__main__":
    main()
