"""Times a .tflite file with LiteRT's interpreter and XNNPACK (runs in the tflite peer venv)."""
from __future__ import annotations

from ._common import load_inputs, measure, parser, set_thread_env


def main() -> None:
    args = parser(__doc__).parse_args()
    set_thread_env(args.threads)
    import numpy as np
    from ai_edge_litert import interpreter as litert

    # The default delegate of LiteRT's CPU interpreter is XNNPACK; num_threads reaches it.
    interp = litert.Interpreter(model_path=args.artifact, num_threads=args.threads)
    interp.allocate_tensors()
    feeds = load_inputs(args.inputs)
    details = interp.get_input_details()
    sets = []
    for d in details:
        name = d["name"].split(":")[0]
        key = next((k for k in feeds if name == k or name.endswith(k) or k in name), None)
        if key is None:
            raise KeyError(f"no feed for the TFLite input {d['name']!r} (feeds: {sorted(feeds)})")
        sets.append((d["index"], np.ascontiguousarray(feeds[key].astype(d["dtype"]))))
    outs = [d["index"] for d in interp.get_output_details()]

    def call():
        for index, value in sets:
            interp.set_tensor(index, value)
        interp.invoke()
        return [interp.get_tensor(i) for i in outs]

    try:
        import importlib.metadata as md
        version = md.version("ai-edge-litert")
    except Exception:
        version = "?"
    measure(call, args, {"version": version})


if __name__ == "__main__":
    main()
