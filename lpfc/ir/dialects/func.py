"""The ``func`` dialect: function-level structure."""
from ..opdef import TERMINATOR, OpDef, register

RETURN = register(OpDef("func.return", frozenset({TERMINATOR}), infer=lambda ts, a: [],
                        doc="Returns the function's outputs."))
