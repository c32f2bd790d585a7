"""lpfc's MLIR-style IR: types, core structures, op definitions, printer, parser, verifier."""
from .attributes import DenseElements, DenseResource
from .core import Block, BlockArgument, Function, Location, Module, Operation, OpResult, Region, Value
from .parser import parse_module
from .printer import collect_resources, print_module
from .types import DType, TensorType

__all__ = ["Block", "BlockArgument", "DenseElements", "DenseResource", "DType", "Function", "Location",
           "Module", "Operation", "OpResult", "Region", "TensorType", "Value", "collect_resources",
           "parse_module", "print_module"]
