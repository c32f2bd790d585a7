"""canonicalize: normalise what exporters vary, so one model reads the same from every exporter.

The TorchScript (opset 14) and dynamo (opset 18/20) exporters write one
transformer differently.  After ``canonicalize,fold-constants,cse,dce`` both
exports of every zoo model have the same ops (tests/passes/test_canonicalize.py).
The rewrites, each exact up to float rounding:

* data movement (movement.py): reshape∘reshape, transpose∘transpose
  (composed perm), expand∘expand merge; identity reshape/transpose/expand/cast and
  ``graph.identity`` forward their operand; a transpose that moves only unit dims
  is a reshape; a unit-dim reshape feeding a transpose moves below it (dynamo's
  ``reshape→transpose[0,2,1]→reshape`` for kᵀ becomes TorchScript's single
  transpose); a gather / gather_nd whose constant index enumerates its axis (or
  leading dims) in order is a reshape;
* identities (identities.py; placement.py): x+0, 0+x, x-0, x*1, 1*x, x/1, x**1 with splat constants, ``and``
  with all-true / ``or`` with all-false (an expand or unit reshape stays when the
  constant widened the result), gemm with a zero C; splat constants that do not
  decide a result's shape become rank-0;
* the attention mask: with the gather and ``and`` rules, TorchScript's
  cast→reshape→gather(arange)→reshape→reshape→and(true)→expand→where and dynamo's
  cast→gather_nd→and(true)→where both become cast→reshape→where; an expand read
  by an element-wise op sinks below it (that op broadcasts anyway) and vanishes
  where the next op broadcasts too;
* layers (layer_norm.py, gelu.py): decomposed LayerNorm (pow(d,2) or d*d,
  division or reciprocal) → ``graph.layer_norm`` with gamma/beta folded in when the
  norm is their only user, and a ones scale / zero bias dropped; erf GELU and GPT-2's
  tanh GELU in any association of the products → ``graph.gelu``;
* Llama's layers (rms_norm.py; movement.py): decomposed RMSNorm (pow(x,2) or x*x, division or
  reciprocal / 1÷) → ``graph.rms_norm`` with its scale folded in; a transpose of trailing dims moves
  above a reshape that only regroups leading dims (GQA's repeat_kv before kᵀ) (docs/llama.md);
* placement (placement.py; scalar_factors.py): constants go second in commutative ops; chained scalar factors merge;
  a matmul's scalar factors gather on its left operand (SDPA's q·√s @ kᵀ·√s and
  eager attention's (q @ kᵀ)·s both become (q·s) @ kᵀ);
* the SDPA NaN guard (nan_guard.py).  ``where(isnan(s), 0, s)``
  after ``s = softmax(x)`` turns fully masked rows (all -inf, so NaN) into zeros.
  It is dead exactly when no row of x can be all -inf or hold NaN/+inf.  A bound
  analysis over the function (constants, integer inputs, float overflow in the
  value's own dtype) decides: when x is provably finite the guard is dropped (the
  dynamo exporter masks with finfo.min, so its scores stay finite); otherwise it
  is live - TorchScript masks with -inf, and an all-zero attention_mask row does
  give NaN - and becomes one op, ``softmax {nan_to_zero = true}``, whose kernel
  is exactly the guard.  We keep the semantics rather than assume masks are never
  all zero: a compiler must not change what a padded-out batch row returns.

Every pattern (:data:`PATTERNS`, one law per class) runs in one greedy rewrite (with constant folding, so patterns see
constants behind reshapes/casts); the guard rewrite needs the whole function's
bounds and runs after it, followed by one more greedy round.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.core import Module
from ..fold_constants import FoldConstantOp
from ..manager import Pass, option
from ..rewrite import Rewriter, apply_patterns
from .gelu import GeluFromErf, GeluFromTanh
from .identities import ForwardOperand, GemmZeroBias, NeutralElement
from .layer_norm import LayerNormAffine, LayerNormFromParts, LayerNormTrivialAffine
from .movement import (ExpandOfExpand, GatherAsReshape, GatherNDAsReshape, ReshapeOfReshape, SinkExpand,
                       TransposeAsReshape, TransposeOfLeadingReshape, TransposeOfTranspose, TransposeOfUnitReshape)
from .nan_guard import rewrite_nan_guards
from .placement import ConstantOnRight, SplatToScalar
from .rms_norm import RMSNormFromParts, RMSNormScale
from .scalar_factors import MergeScalarMuls, ScaleOnLeftMatmulOperand

# Every pattern of the greedy rewrite, one law per class, one family per module. The driver tries an
# op's patterns in this order and takes the first that applies, so the order is part of the result.
PATTERNS = (
    ForwardOperand, NeutralElement, GemmZeroBias,                                   # identities
    ReshapeOfReshape, TransposeOfTranspose, TransposeAsReshape, TransposeOfUnitReshape,  # movement
    GatherAsReshape, GatherNDAsReshape, ExpandOfExpand, SinkExpand,
    SplatToScalar, ConstantOnRight,                                                 # placement
    GeluFromErf, GeluFromTanh,                                                      # gelu
    LayerNormFromParts, LayerNormAffine, LayerNormTrivialAffine,                    # layer_norm
    MergeScalarMuls, ScaleOnLeftMatmulOperand,                                      # scalar_factors
    RMSNormFromParts, RMSNormScale,                                                 # rms_norm
    TransposeOfLeadingReshape,                                                      # movement (GQA)
)


def canonical_patterns(max_fold_elements: int = 1 << 16) -> list:
    return [p() for p in PATTERNS] + [FoldConstantOp(max_fold_elements)]


@dataclass
class Canonicalize(Pass):
    name = "canonicalize"
    summary = "normalise exporter variations (reshape chains, identities, masks, LayerNorm, GELU, NaN guards)"
    max_fold_elements: int = option(1 << 16, "fold constant ops with results up to this size")

    def run(self, module: Module) -> None:
        patterns = canonical_patterns(self.max_fold_elements)
        apply_patterns(module, patterns)
        changed = False
        for fn in module.functions:
            changed |= rewrite_nan_guards(fn, Rewriter()) > 0
        if changed:
            apply_patterns(module, patterns)
