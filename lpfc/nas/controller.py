"""The controller: an LSTM policy that writes an architecture one decision per token (ENAS/NASNet style),
trained with REINFORCE, a moving-average baseline and an entropy bonus.

Decisions, in order (lpfc/nas/space.py): the layer count, the hidden size, then heads and FFN size for each
layer. Each step feeds the previous choice (an embedding per decision kind) and the step's position into an
LSTM cell; a linear head per kind turns the cell's output into logits over that kind's choices, with the
choices the space forbids (a head count that does not fit the hidden size) masked out.

Two phases, as in the paper (§2): phase 1 learns the whole sequence, the layer count first; then the
search fixes the layer count (``fixed_layers``) and phase 2 learns only the per-layer sizes given it.

Reproducible: the weights are initialised and every choice drawn from torch generators seeded by ``seed``,
so the same seed and the same rewards give the same decisions. torch is imported when a controller is made.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .space import KINDS, SearchSpace


@dataclass
class Sample:
    indices: list          # one choice index per decision
    arch: dict
    fixed_layers: bool     # phase 2: the layer count was given, not chosen


class Controller:
    def __init__(self, space: SearchSpace, *, seed: int = 0, hidden_size: int = 64, lr: float = 3.5e-3,
                 entropy_weight: float = 1e-2, baseline_decay: float = 0.9, temperature: float = 1.0):
        import torch

        self.torch = torch
        self.space = space
        self.entropy_weight, self.baseline_decay, self.temperature = entropy_weight, baseline_decay, temperature
        self.baseline: Optional[float] = None
        self.steps = 0
        max_steps = len(space.decisions(max(space.layers)))
        gen = torch.Generator().manual_seed(int(seed))
        self.gen = torch.Generator().manual_seed(int(seed) + 1)     # the draws: separate from the init
        nn = torch.nn
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(gen.initial_seed()))
            self.net = nn.ModuleDict({
                "cell": nn.LSTMCell(hidden_size, hidden_size),
                "start": nn.Embedding(1, hidden_size),
                "pos": nn.Embedding(max_steps, hidden_size),
                **{f"emb_{k}": nn.Embedding(len(space.choices(k)), hidden_size) for k in KINDS},
                **{f"out_{k}": nn.Linear(hidden_size, len(space.choices(k))) for k in KINDS},
            })
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.hidden_size = hidden_size

    # -- one pass over a decision sequence --------------------------------------------------------------------
    def _run(self, forced: Optional[Sequence[int]], fixed_layers: Optional[int], draw: bool, limit=None):
        """Walk the decisions: draw them (``draw``) or replay ``forced``. Returns (indices, logp, entropy).

        ``limit(t, kind, indices)`` (draws only): the largest choice index decision ``t`` may take given the
        decisions so far, or None for no limit (the search's latency constraint)."""
        torch = self.torch
        F = torch.nn.functional
        h = torch.zeros(1, self.hidden_size)
        c = torch.zeros(1, self.hidden_size)
        x = self.net["start"](torch.zeros(1, dtype=torch.long))
        indices, logp, ent = [], torch.zeros(()), torch.zeros(())
        kinds = ["layers", "hidden"]
        hidden = None
        t = 0
        while t < len(kinds):
            kind = kinds[t]
            h, c = self.net["cell"](x + self.net["pos"](torch.tensor([t])), (h, c))
            logits = self.net[f"out_{kind}"](h)[0] / self.temperature
            allowed = torch.tensor(self.space.allowed(kind, hidden))
            logits = logits.masked_fill(~allowed, float("-inf"))
            logprobs = F.log_softmax(logits, -1)
            given = kind == "layers" and fixed_layers is not None
            if given:
                i = self.space.layers.index(fixed_layers)
            elif draw:
                probs = logprobs.exp().detach()
                top = limit(t, kind, indices) if limit is not None else None
                if top is not None:
                    cut = probs.clone()
                    cut[top + 1:] = 0.0
                    probs = cut if float(cut.sum()) > 0 else probs
                i = int(torch.multinomial(probs, 1, generator=self.gen))
            else:
                i = int(forced[t])
            if not given:   # a given layer count is not the policy's decision: no gradient, no entropy
                logp = logp + logprobs[i]
                p = logprobs.exp()
                ent = ent - (p[allowed] * logprobs[allowed]).sum()
            indices.append(i)
            if kind == "layers":
                kinds = self.space.decisions(self.space.layers[i])
            if kind == "hidden":
                hidden = self.space.hidden[i]
            x = self.net[f"emb_{kind}"](torch.tensor([i]))
            t += 1
        return indices, logp, ent

    def sample(self, fixed_layers: Optional[int] = None, limit=None) -> Sample:
        """Draw an architecture. ``limit``: see ``_run``; a limited decision draws from the policy's
        distribution cut to the choices up to the limit and renormalised."""
        with self.torch.no_grad():
            idx, _, _ = self._run(None, fixed_layers, draw=True, limit=limit)
        return Sample(idx, self.space.arch_from_indices(idx), fixed_layers is not None)

    def update(self, batch: Sequence[tuple]) -> dict:
        """One REINFORCE step on ``[(Sample, reward), ...]``: loss = -(R - b)·log π(a) - β·H(π) summed over the
        batch; the baseline b is the exponential moving average of the rewards seen before this batch."""
        torch = self.torch
        if not batch:
            return {}
        rewards = [float(r) for _, r in batch]
        base = self.baseline if self.baseline is not None else sum(rewards) / len(rewards)
        loss = torch.zeros(())
        for s, r in batch:
            fixed = self.space.layers[s.indices[0]] if s.fixed_layers else None
            _, logp, ent = self._run(s.indices, fixed, draw=False)
            loss = loss - (r - base) * logp - self.entropy_weight * ent
        loss = loss / len(batch)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        for r in rewards:
            self.baseline = r if self.baseline is None else (
                self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r)
        self.steps += 1
        return {"loss": float(loss.detach()), "baseline": self.baseline}

    def layer_probs(self) -> list:
        """The policy's probability of each layer count (its first decision)."""
        torch = self.torch
        with torch.no_grad():
            h = torch.zeros(1, self.hidden_size)
            x = self.net["start"](torch.zeros(1, dtype=torch.long)) + self.net["pos"](torch.tensor([0]))
            h, _ = self.net["cell"](x, (h, torch.zeros(1, self.hidden_size)))
            p = torch.softmax(self.net["out_layers"](h)[0] / self.temperature, -1)
        return [float(v) for v in p]

    def choice_probs(self, prefix: Sequence[int]) -> list:
        """The policy's distribution over the decision that follows ``prefix`` (indices), for tests."""
        torch = self.torch
        F = torch.nn.functional
        with torch.no_grad():
            h = torch.zeros(1, self.hidden_size)
            c = torch.zeros(1, self.hidden_size)
            x = self.net["start"](torch.zeros(1, dtype=torch.long))
            kinds = ["layers", "hidden"] if not prefix else self.space.decisions(self.space.layers[prefix[0]])
            hidden = self.space.hidden[prefix[1]] if len(prefix) > 1 else None
            for t in range(len(prefix) + 1):
                kind = kinds[t]
                h, c = self.net["cell"](x + self.net["pos"](torch.tensor([t])), (h, c))
                if t == len(prefix):
                    logits = self.net[f"out_{kind}"](h)[0] / self.temperature
                    logits = logits.masked_fill(~torch.tensor(self.space.allowed(kind, hidden)), float("-inf"))
                    return [float(v) for v in F.softmax(logits, -1)]
                x = self.net[f"emb_{kind}"](torch.tensor([prefix[t]]))
        return []


__all__ = ["Controller", "Sample"]
