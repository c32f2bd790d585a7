"""dce: erase ops whose results nobody uses (every graph op is free of side effects)."""
from dataclasses import dataclass

from ..ir.core import Module
from .manager import Pass
from .rewrite import apply_patterns


@dataclass
class DCE(Pass):
    name = "dce"
    summary = "erase unused ops"

    def run(self, module: Module) -> None:
        apply_patterns(module, [])  # the driver itself erases dead ops
