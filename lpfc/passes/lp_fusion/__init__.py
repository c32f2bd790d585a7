"""lp-fusion: Lightweight Polynomial-based Layer Fusion (CANAO, section 2.2).

Two halves, as in the paper:

1. *Algebra* (``algebra=true``): polynomial rewriting by the computation laws
   (associative, commutative, distributive) and folding of constant sub-terms
   into weights (:mod:`.polynomial`, :mod:`.scale_folding`), followed by
   fold-constants, cse and dce.  ``(A+F)*G + (A+F)*H`` becomes
   ``(A+F)*(G+H)``: 5 computations become 3.
2. *Blocks* (``blocks=true``): sibling GEMMs on one input become one GEMM
   (horizontal fusion), then ops are grouped into ``graph.fused`` kernels by
   their data-access patterns (DNNFusion mapping types); see
   :mod:`.horizontal`, :mod:`.blocks` and ``docs/fusion.md``.

Every rewrite preserves what the function computes (the interpreter gives the
same outputs before and after, within fp32 rounding), and the computation
count never grows.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.core import Function, Module
from ..manager import Pass, option
from .blocks import form_blocks
from .horizontal import fuse_horizontal_gemms
from .polynomial import simplify_polynomials
from .scale_folding import fold_scales_into_weights


def run_algebra(fn: Function) -> int:
    """Polynomial simplification, then scale folding; the number of rewrites."""
    return simplify_polynomials(fn) + fold_scales_into_weights(fn)


def _cleanup(module: Module) -> None:
    from ..cse import CSE
    from ..dce import DCE
    from ..fold_constants import FoldConstants

    FoldConstants().run(module)
    CSE().run(module)
    DCE().run(module)


@dataclass
class LPFusion(Pass):
    name = "lp-fusion"
    summary = "polynomial rewriting, weight folding and fused-block formation"
    max_block_ops: int = option(64, "largest number of ops one fused block may hold")
    algebra: bool = option(True, "apply the computation laws and fold constant scales into weights")
    blocks: bool = option(True, "form graph.fused blocks (with horizontal GEMM fusion)")

    def run(self, module: Module) -> None:
        if self.algebra:
            changed = False
            for fn in module.functions:
                changed |= bool(run_algebra(fn))
            if changed:
                _cleanup(module)
        if self.blocks:
            fused_any = False
            for fn in module.functions:
                fused_any |= fuse_horizontal_gemms(fn) > 0
            if fused_any:
                _cleanup(module)  # folds the weight/bias concatenations
            for fn in module.functions:
                form_blocks(fn, max_ops=max(1, self.max_block_ops))
