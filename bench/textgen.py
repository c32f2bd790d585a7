"""Text generation speed: prefill latency, time to first token and decode tokens/s for lpfc, onnxruntime
(the same prefill/decode ONNX, KV cache bound as inputs) and PyTorch eager (transformers with its own
cache), at each thread count, with the GB/s the decode step achieves against the machine's measured
memory bandwidth.

    python bench/textgen.py [--model smollm2|gpt2-tiny] [--threads 1,2] [--tokens 64] [--rounds 2]
                            [--runtimes lpfc,lpfc-fp16,ort,torch]

``lpfc-fp16``: lpfc with the decode library built with ``weights="fp16"`` (its one-row GEMMs read fp16 weights,
computed in fp32; its GB/s counts those weights at 2 bytes).  "same tokens" compares with the first runtime;
"agree" is how many of the first new tokens are the same.  ``--reuse-prefill`` (lpfc and onnxruntime only, for
short quiet windows): each runtime runs the prefill once (its time is reported) and every round decodes from that
cache again (the engine's length is reset to the prompt's; the rows past it are rewritten by the steps).

Per runtime and thread count: greedy generation of ``--tokens`` tokens from a fixed prompt, ``--rounds``
times (runtimes interleaved round by round, so other load on the machine hits all alike; one warm-up
generation first).  prefill = the prompt's forward pass (lpfc and onnxruntime run the padded P-token
graph, PyTorch only the real tokens); first token = prefill + choosing the token; decode tokens/s =
decode steps / their total time (median over rounds).  GB/s = the decode graph's weight bytes (less the tables only gathered from) x tokens/s
(the KV cache read is small at these lengths and not counted).  Bandwidth: the best of 5 numpy copies of
a 256 MiB array (read + write bytes; one thread).  The CPU and load average are printed with the numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.peak import cpu_name  # noqa: E402  (after the path line: run as a script)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def memory_bandwidth_gbs(mib: int = 256, repeats: int = 5) -> float:
    import numpy as np
    src = np.ones(mib << 18, np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best / 1e9


def weight_bytes(onnx_path) -> int:
    """Bytes of the initializers a decode step reads whole: tables only gathered from (the token
    embedding, the position or RoPE tables) are read one row per token and are left out."""
    import onnx
    m = onnx.load(str(onnx_path), load_external_data=False)
    gathered, used = set(), set()
    for node in m.graph.node:
        for k, name in enumerate(node.input):
            (gathered if node.op_type == "Gather" and k == 0 else used).add(name)
    n = 0
    for t in m.graph.initializer:
        if t.name in gathered and t.name not in used:
            continue
        size = 1
        for d in t.dims:
            size *= d
        n += size * {1: 4, 7: 8, 10: 2, 3: 1, 2: 1, 6: 4, 9: 1, 11: 8}.get(t.data_type, 4)
    return n


class TorchEager:
    def __init__(self, model, threads):
        self.m, self.threads = model, threads

    def generate(self, ids, n, stats):
        import torch
        torch.set_num_threads(self.threads)
        with torch.no_grad():
            t0 = time.perf_counter()
            out = self.m(torch.tensor([ids]), use_cache=True)
            stats.prefill_s = time.perf_counter() - t0
            tok = int(out.logits[0, -1].argmax())
            stats.first_token_s = time.perf_counter() - t0
            past = out.past_key_values
            toks = [tok]
            for _ in range(n - 1):
                t1 = time.perf_counter()
                out = self.m(torch.tensor([[tok]]), past_key_values=past, use_cache=True)
                past = out.past_key_values
                tok = int(out.logits[0, -1].argmax())
                dt = time.perf_counter() - t1
                stats.step_times.append(dt)
                stats.decode_s += dt
                toks.append(tok)
        return toks


def decode_again(eng, ids, n, st, first):
    """Greedy decoding of ``n`` tokens from the prompt's cache: the prefill runs only the first time."""
    import numpy as np
    import time as _t
    if not hasattr(first, "logits"):
        t0 = _t.perf_counter()
        first.logits = eng.prefill(ids)
        first.prefill_s = first.first_token_s = _t.perf_counter() - t0
    st.prefill_s, st.first_token_s = first.prefill_s, first.first_token_s
    eng.length = len(ids)
    tok = int(np.argmax(first.logits))
    toks = [tok]
    for _ in range(n - 1):
        t1 = _t.perf_counter()
        tok = int(np.argmax(eng.step(tok)))
        dt = _t.perf_counter() - t1
        st.step_times.append(dt)
        st.decode_s += dt
        toks.append(tok)
    return toks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runtimes", default="lpfc,ort,torch")
    ap.add_argument("--reuse-prefill", action="store_true")
    ap.add_argument("--lib-hash", default=None, help="time the libraries an earlier lpfc built (never compile)")
    args = ap.parse_args(argv)
    from examples.textgen.build import build
    from examples.textgen.engine import Engine, Stats
    from examples.textgen.models import load_model, load_tokenizer

    threads = [int(t) for t in args.threads.split(",")]
    runtimes = args.runtimes.split(",")
    b = build(args.model, quiet=False, lib_hash=args.lib_hash)
    b16 = build(args.model, quiet=False, weights="fp16", lib_hash=args.lib_hash) if "lpfc-fp16" in runtimes else None
    tok = load_tokenizer(args.model)
    ids = tok.encode(PROMPT)[:b.shapes.prefill]   # gpt2-tiny: bytes, cut to its 32-token prefill
    model = load_model(args.model) if "torch" in runtimes else None
    wb = weight_bytes(b.decode_onnx)
    bw = memory_bandwidth_gbs()
    print(f"CPU: {cpu_name()}; {os.cpu_count()} logical CPUs; load average {os.getloadavg()[0]:.2f} "
          f"(shared machine: other jobs run beside this); measured copy bandwidth {bw:.1f} GB/s (1 thread)")
    print(f"model {args.model}: decode weights {wb / 1e6:.0f} MB; prompt {len(ids)} tokens (P={b.shapes.prefill}, "
          f"L={b.shapes.capacity}); {args.tokens} new tokens, greedy; {args.rounds} rounds", flush=True)
    runners = {}
    for t in threads:
        for rt in runtimes:
            runners[(rt, t)] = (TorchEager(model, t) if rt == "torch"
                                else Engine.open(b16, "lpfc", threads=t, eos_id=None) if rt == "lpfc-fp16"
                                else Engine.open(b, rt, threads=t, eos_id=None))
    results = {k: [] for k in runners}
    outputs = {}
    first = {}          # --reuse-prefill: the one prefill's stats and logits per runtime
    for r in range(args.rounds + 1):
        for key, run in runners.items():
            st = Stats()
            if isinstance(run, TorchEager):
                toks = run.generate(ids, args.tokens, st)
            elif args.reuse_prefill:
                toks = decode_again(run, ids, args.tokens, st, first.setdefault(key, Stats()))
            else:
                toks = list(run.generate(ids, args.tokens, stats=st, stop_at_eos=False))
            outputs[key] = toks
            if r > 0:     # round 0 warms up
                results[key].append(st)
    ref = outputs[next(iter(outputs))]
    print()
    print("| runtime | threads | prefill ms | first token ms | decode tokens/s | decode GB/s | of bandwidth |"
          " same tokens | agree |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for (rt, t), sts in results.items():
        pre = statistics.median(s.prefill_s for s in sts) * 1e3
        ftt = statistics.median(s.first_token_s for s in sts) * 1e3
        tps = statistics.median(s.tokens_per_s for s in sts)
        gbs = (wb / 2 if rt == "lpfc-fp16" else wb) * tps / 1e9
        agree = next((i for i, (x, y) in enumerate(zip(outputs[(rt, t)], ref)) if x != y), len(ref))
        print(f"| {rt} | {t} | {pre:.1f} | {ftt:.1f} | {tps:.2f} | {gbs:.2f} | {gbs / bw:.0%} | "
              f"{outputs[(rt, t)] == ref} | {agree} |")
    for t in threads:
        for rt in ("lpfc", "lpfc-fp16"):
            if (rt, t) in results and ("ort", t) in results:
                a = statistics.median(s.tokens_per_s for s in results[(rt, t)])
                o = statistics.median(s.tokens_per_s for s in results[("ort", t)])
                print(f"{rt} / onnxruntime decode tokens/s at {t} thread(s): {a / o:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
