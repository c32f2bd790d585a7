"""The search space (paper §2.1): layer count, hidden size, and per layer its attention heads and FFN size.

An architecture is the latency oracle's dict (lpfc/cost/arch.py): ``{"layers", "hidden", "heads", "ffn",
"seq", "batch", "vocab"}`` with ``heads``/``ffn`` one entry per layer, plus ``head_dim`` when the space
fixes the width of a head (attention width = heads × head_dim, as in a sub-network whose pruned heads
keep MiniLM's 32 dimensions).

The default is the sub-network space of MiniLM-L6-H384 (the QA app's super-network): 1–6 layers,
hidden 128–384 in steps of 64, 1–12 heads of 32 dimensions each (MiniLM's 12 heads, pruned by
importance; the attention width heads × 32 need not equal hidden), FFN 128–1536 in steps of 128, at the
QA app's sequence length 384.

The controller makes its decisions in a fixed order (``decisions``): first the layer count, then the
hidden size, then heads and FFN for each layer; ``allowed`` says which choices a decision may take
given the ones before it (without a fixed head width, a head count must divide the chosen hidden size).
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Mapping, Optional, Sequence

from ..errors import NasError

KINDS = ("layers", "hidden", "heads", "ffn")


def _tuple(name: str, values) -> tuple:
    try:
        out = tuple(sorted({int(v) for v in values}))
    except (TypeError, ValueError):
        raise NasError(f"search space {name!r} must be a list of positive integers, got {values!r}") from None
    if any(v <= 0 for v in out):
        raise NasError(f"search space {name!r} must hold positive integers only, got {list(out)}")
    return out


@dataclass(frozen=True)
class SearchSpace:
    layers: tuple = (1, 2, 3, 4, 5, 6)
    hidden: tuple = (128, 192, 256, 320, 384)
    heads: tuple = tuple(range(1, 13))
    ffn: tuple = tuple(range(128, 1537, 128))
    head_dim: Optional[int] = 32      # None: a head is hidden // heads wide (heads must divide hidden)
    seq: int = 384                    # the sequence length the latency is priced at (the QA app's)
    batch: int = 1
    vocab: int = 30522
    extra: dict = field(default_factory=dict, compare=False)   # free-form notes, kept in search.json

    def __post_init__(self):
        for k in KINDS:
            object.__setattr__(self, k, _tuple(k, getattr(self, k)))

    # -- checks --------------------------------------------------------------------------------------------
    def validate(self) -> "SearchSpace":
        """NasError for a space with nothing in it (a kind without choices, a hidden size no head count fits)."""
        for k in KINDS:
            if not getattr(self, k):
                raise NasError(f"the search space is empty: {k!r} has no choices")
        for k in ("seq", "batch", "vocab"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise NasError(f"search space {k!r} must be a positive integer, got {v!r}")
        if self.head_dim is not None and (not isinstance(self.head_dim, int) or self.head_dim <= 0):
            raise NasError(f"search space 'head_dim' must be a positive integer or None, got {self.head_dim!r}")
        bad = [h for h in self.hidden if not any(self.head_fits(h, n) for n in self.heads)]
        if bad:
            raise NasError(f"the search space is empty for hidden {bad[0]}: no head count in {list(self.heads)} "
                           f"divides it (give a head_dim, or head counts dividing every hidden size)")
        return self

    def head_fits(self, hidden: int, heads: int) -> bool:
        """With a fixed head width any head count fits (the attention is heads x head_dim wide, projected
        from and back to hidden); without one, heads must divide hidden."""
        return self.head_dim is not None or hidden % heads == 0

    # -- the controller's decisions ------------------------------------------------------------------------
    def decisions(self, layers: int) -> list:
        """The kinds of the decisions of an architecture with ``layers`` layers, in the controller's order."""
        return ["layers", "hidden"] + [k for _ in range(layers) for k in ("heads", "ffn")]

    def choices(self, kind: str) -> tuple:
        return getattr(self, kind)

    def allowed(self, kind: str, hidden: Optional[int]) -> list:
        """Which choices (bools, one per ``choices(kind)``) a decision of ``kind`` may take given the hidden size."""
        if kind == "heads" and hidden is not None:
            return [self.head_fits(hidden, n) for n in self.heads]
        return [True] * len(self.choices(kind))

    def arch(self, layers: int, hidden: int, heads: Sequence[int], ffn: Sequence[int]) -> dict:
        out = {"layers": int(layers), "hidden": int(hidden), "heads": [int(h) for h in heads],
               "ffn": [int(f) for f in ffn], "seq": self.seq, "batch": self.batch, "vocab": self.vocab}
        if self.head_dim is not None:
            out["head_dim"] = self.head_dim
        return out

    def arch_from_indices(self, idx: Sequence[int]) -> dict:
        """The architecture of a decision sequence (indices into each decision's choices)."""
        n = self.layers[idx[0]]
        hidden = self.hidden[idx[1]]
        rest = idx[2:]
        return self.arch(n, hidden, [self.heads[i] for i in rest[0::2]], [self.ffn[i] for i in rest[1::2]])

    def contains(self, arch: Mapping) -> bool:
        try:
            n, h = arch["layers"], arch["hidden"]
            return (n in self.layers and h in self.hidden and len(arch["heads"]) == n and len(arch["ffn"]) == n
                    and all(x in self.heads and self.head_fits(h, x) for x in arch["heads"])
                    and all(x in self.ffn for x in arch["ffn"]) and arch.get("head_dim") == self.head_dim
                    and arch.get("seq") == self.seq)
        except (KeyError, TypeError):
            return False

    # -- a few architectures -------------------------------------------------------------------------------
    def sample(self, rng: random.Random) -> dict:
        """A uniformly drawn architecture (each decision uniform over its allowed choices)."""
        n = rng.choice(self.layers)
        h = rng.choice(self.hidden)
        heads = [rng.choice([x for x in self.heads if self.head_fits(h, x)]) for _ in range(n)]
        return self.arch(n, h, heads, [rng.choice(self.ffn) for _ in range(n)])

    def smallest(self, layers: Optional[int] = None) -> dict:
        """Every size at its least (with ``layers`` layers; default the fewest)."""
        n = self.layers[0] if layers is None else layers
        h = self.hidden[0]
        nh = min(x for x in self.heads if self.head_fits(h, x))
        return self.arch(n, h, [nh] * n, [self.ffn[0]] * n)

    def largest(self) -> dict:
        n, h = self.layers[-1], self.hidden[-1]
        nh = max(x for x in self.heads if self.head_fits(h, x))
        return self.arch(n, h, [nh] * n, [self.ffn[-1]] * n)

    def size(self) -> int:
        """How many architectures the space holds."""
        total = 0
        for h in self.hidden:
            per_layer = sum(self.head_fits(h, x) for x in self.heads) * len(self.ffn)
            total += sum(per_layer ** n for n in self.layers)
        return total

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in KINDS:
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "SearchSpace":
        known = {k: d[k] for k in ("layers", "hidden", "heads", "ffn", "head_dim", "seq", "batch", "vocab", "extra")
                 if k in d}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise NasError(f"unknown search-space key {unknown[0]!r}",
                           hint="the keys are layers, hidden, heads, ffn, head_dim, seq, batch, vocab")
        return cls(**known)


def parse_choices(text: str, what: str) -> tuple:
    """``"1-6"``, ``"128-1536:128"`` or ``"128,256,384"`` -> a tuple of ints (the CLI's space options)."""
    out = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            rng, _, step = part.partition(":")
            lo, dash, hi = rng.partition("-")
            if dash:
                lo_i, hi_i, st = int(lo), int(hi), int(step or 1)
                if st <= 0 or hi_i < lo_i:
                    raise ValueError
                out += list(range(lo_i, hi_i + 1, st))
            else:
                if step:
                    raise ValueError
                out.append(int(lo))
    except ValueError:
        raise NasError(f"{what} {text!r} is not a list of integers: use '1-6', '128-1536:128' or '128,256'") from None
    return tuple(out)


__all__ = ["KINDS", "SearchSpace", "parse_choices"]
