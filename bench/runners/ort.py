"""Times an ONNX file with onnxruntime's CPU provider and its default graph optimisations."""
from __future__ import annotations

from ._common import load_inputs, measure, parser, set_thread_env


def main() -> None:
    args = parser(__doc__).parse_args()
    set_thread_env(args.threads)
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.artifact, so, providers=["CPUExecutionProvider"])
    feeds = load_inputs(args.inputs)
    feeds = {i.name: feeds[i.name] for i in sess.get_inputs()}
    measure(lambda: sess.run(None, feeds), args, {"version": ort.__version__})


if __name__ == "__main__":
    main()
