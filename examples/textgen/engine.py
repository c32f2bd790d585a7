"""Incremental decoding over the two compiled graphs, with a KV cache the app owns (numpy).

    eng = Engine.open(build, runtime="lpfc", threads=2)
    for token in eng.generate(prompt_ids, max_new_tokens=64, sampling=Sampling()):
        ...

The cache is one float32 array [1, Hkv, L, D] per layer for keys and one for values, allocated once.
A decode step passes the arrays themselves (``lpfc.Session.run`` hands contiguous arrays to the
library without copying, and the runtime reads inputs in place); the step returns only the new
rows, written here at row ``past_len``.  onnxruntime gets the same arrays bound once as OrtValues
that share their memory.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import numpy as np

from .sampling import Sampler, Sampling


class TextgenError(ValueError):
    """A request the model cannot serve (prompt too long, cache full, empty prompt)."""


@dataclass
class Stats:
    prompt_tokens: int = 0
    new_tokens: int = 0
    prefill_s: float = 0.0          # the prefill run
    first_token_s: float = 0.0      # request start -> first token chosen
    decode_s: float = 0.0           # all decode steps
    step_times: list = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return len(self.step_times) / self.decode_s if self.decode_s > 0 else float("nan")


class _LpfcRunner:
    def __init__(self, path, threads):
        import lpfc
        self.sess = lpfc.load(path, threads=threads)

    def run(self, feeds):
        return self.sess.run(None, feeds)


class _OrtRunner:
    """onnxruntime with the inputs bound as OrtValues sharing numpy's memory (no copy per step)."""

    def __init__(self, path, threads):
        import onnxruntime as ort
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.sess.get_outputs()]

    def run(self, feeds):
        import onnxruntime as ort
        b = self.sess.io_binding()
        for k, v in feeds.items():
            b.bind_ortvalue_input(k, ort.OrtValue.ortvalue_from_numpy(v))
        for o in self.outputs:
            b.bind_output(o)
        self.sess.run_with_iobinding(b)
        return b.copy_outputs_to_cpu()


RUNTIMES = {"lpfc": _LpfcRunner, "ort": _OrtRunner}


class Engine:
    def __init__(self, prefill, decode, shapes, eos_id: Optional[int] = None):
        self.prefill_run, self.decode_run, self.sh, self.eos_id = prefill, decode, shapes, eos_id
        sh = shapes
        # keys transposed ([1, Hkv, D, L], a column per position: docs/textgen.md) when the export says so
        self.kt = bool(getattr(sh, "keys_transposed", False))
        rows, cols = (1, sh.kv_heads, sh.capacity, sh.head_dim), (1, sh.kv_heads, sh.head_dim, sh.capacity)
        self.cache = [np.zeros(cols if self.kt and j % 2 == 0 else rows, np.float32) for j in range(2 * sh.layers)]
        self.length = 0
        self._ids = np.zeros((1, 1), np.int64)
        self._pos = np.zeros(1, np.int64)
        self._feeds = {"input_ids": self._ids, "past_len": self._pos}
        for i in range(sh.layers):
            self._feeds[f"past_key.{i}"] = self.cache[2 * i]
            self._feeds[f"past_value.{i}"] = self.cache[2 * i + 1]

    @classmethod
    def open(cls, build, runtime: str = "lpfc", threads: Optional[int] = None, eos_id: Optional[int] = None):
        """``build``: an examples.textgen.build.Build; runtime ``lpfc`` (the libraries) or ``ort`` (the ONNX)."""
        R = RUNTIMES[runtime]
        if runtime == "lpfc":
            pre, dec = R(build.prefill_lib, threads), R(build.decode_lib, threads)
        else:
            pre, dec = R(build.prefill_onnx, threads), R(build.decode_onnx, threads)
        return cls(pre.run, dec.run, build.shapes, eos_id)

    # -- the two steps ----------------------------------------------------------------------------
    def prefill(self, ids: Sequence[int]) -> np.ndarray:
        n, P = len(ids), self.sh.prefill
        if n == 0:
            raise TextgenError("the prompt is empty")
        if n > P:
            raise TextgenError(f"the prompt has {n} tokens; the compiled prefill takes at most {P} "
                               "(shorten the prompt, or rebuild with a larger prefill capacity)")
        x = np.zeros((1, P), np.int64)
        x[0, :n] = ids
        out = self.prefill_run({"input_ids": x, "length": np.array([n], np.int64)})
        rows_first = getattr(self.sh, "prefill_kv_rows", False)      # [1, P, Hkv, D], else [1, Hkv, P, D]
        for j, kv in enumerate(out[1:]):
            self.rows(j, slice(0, n))[...] = kv[:, :n].transpose(0, 2, 1, 3) if rows_first else kv[:, :, :n]
        self.length = n
        return out[0][0]

    def step(self, token: int) -> np.ndarray:
        if self.length >= self.sh.capacity:
            raise TextgenError(f"the KV cache is full ({self.sh.capacity} tokens): the text cannot grow further")
        self._ids[0, 0] = token
        self._pos[0] = self.length
        out = self.decode_run(self._feeds)
        for j, kv in enumerate(out[1:]):
            self.rows(j, self.length)[...] = kv[:, :, 0]
        self.length += 1
        return out[0][0]

    def rows(self, j: int, positions) -> np.ndarray:
        """A view of cache array ``j`` (2i: keys of layer i, 2i+1: values) at ``positions`` (an index or a slice)
        as [1, Hkv, (n,) D]: keys are stored transposed, a column per position."""
        c = self.cache[j]
        if self.kt and j % 2 == 0:
            c = c.transpose(0, 1, 3, 2)
        return c[:, :, positions]

    # -- generation ---------------------------------------------------------------------------------
    def check_room(self, prompt_len: int, max_new_tokens: int) -> None:
        need = prompt_len + max_new_tokens - 1      # the last token is chosen, never fed back
        if prompt_len > self.sh.prefill:
            raise TextgenError(f"the prompt has {prompt_len} tokens; the compiled prefill takes at most "
                               f"{self.sh.prefill}")
        if max_new_tokens < 1:
            raise TextgenError(f"max new tokens must be at least 1, not {max_new_tokens}")
        if need > self.sh.capacity:
            raise TextgenError(f"{prompt_len} prompt tokens + {max_new_tokens} new tokens need {need} cache rows; "
                               f"the compiled cache holds {self.sh.capacity} (at most "
                               f"{self.sh.capacity - prompt_len + 1} new tokens for this prompt)")

    def generate(self, ids: Sequence[int], max_new_tokens: int, sampling: Sampling = Sampling(),
                 stats: Optional[Stats] = None, stop_at_eos: bool = True) -> Iterator[int]:
        """Yields the new token ids as they are chosen (stops after EOS, which is yielded)."""
        ids = list(ids)
        self.check_room(len(ids), max_new_tokens)
        st = stats if stats is not None else Stats()
        st.prompt_tokens = len(ids)
        pick = Sampler(sampling)
        t0 = time.perf_counter()
        logits = self.prefill(ids)
        st.prefill_s = time.perf_counter() - t0
        seen = list(ids)
        for k in range(max_new_tokens):
            tok = pick(logits, seen)
            if k == 0:
                st.first_token_s = time.perf_counter() - t0
            seen.append(tok)
            st.new_tokens += 1
            yield tok
            if (stop_at_eos and tok == self.eos_id) or k == max_new_tokens - 1:
                return
            t1 = time.perf_counter()
            logits = self.step(tok)
            dt = time.perf_counter() - t1
            st.step_times.append(dt)
            st.decode_s += dt
