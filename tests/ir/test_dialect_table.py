"""lpfc.ir.dialects.DIALECTS: the one table of dialects, loaded by name (issue #11 item 2)."""
from lpfc.ir import dialects
from lpfc.ir.opdef import lookup, registered_ops


def test_every_op_belongs_to_a_dialect_of_the_table():
    prefixes = {name.split(".")[0] for name in registered_ops()}
    assert prefixes == set(dialects.DIALECTS)


def test_each_dialect_module_defines_its_own_ops():
    for name, module in dialects.DIALECTS.items():
        assert dialects.load_dialect(name).__name__ == module
        assert any(op.startswith(name + ".") for op in registered_ops()), name


def test_the_loop_dialect_lives_with_poly_and_loads_on_lookup():
    d = lookup("loop.kernel")
    assert d is not None and d.infer.__module__ == "lpfc.poly.dialect"
    from lpfc.interp.kernels import KERNELS
    assert "loop.kernel" in KERNELS
