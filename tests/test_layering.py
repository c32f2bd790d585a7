"""The layer boundaries (docs/design.md, "Layers"; issue #11): data flows one way, a lower layer never
imports a higher one.

Every ``import`` of an lpfc module in lpfc/ is read with ``ast`` -- those inside functions too, which is
where backward edges hide -- and compared with the layer table below. The test fails on a backward import
that is not in :data:`KNOWN_VIOLATIONS`, and on an entry there that no longer occurs: the list can only
shrink. A module that no layer covers fails too, so a new package gets its place on purpose.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lpfc"

#: (module prefix, layer): the longest matching prefix decides. Same layer: may import each other.
LAYERS = [
    # the ground: no lpfc imports of their own, every layer may use them
    ("lpfc.errors", 0),
    ("lpfc.progress", 0),
    ("lpfc.__version__", 0),     # `from lpfc import __version__`: the version string, not the package's API
    ("lpfc.ir", 1),
    ("lpfc.interp", 2),          # the reference interpreter: shared by the importer's folding and the passes
    ("lpfc.frontend", 3),
    ("lpfc.passes", 4),
    ("lpfc.poly", 5),
    ("lpfc.codegen", 6),
    ("lpfc.tune", 7),            # measures codegen's variants; compile asks it which to emit
    ("lpfc.runtime", 7),         # loads and runs what codegen built (foreign: builds the driver with its toolchain)
    ("lpfc.compiler", 8),        # the library's entry points: they run the stages above
    ("lpfc.explain", 8),
    ("lpfc.cost", 9),            # built on the library: the latency oracle compiles and runs models
    ("lpfc.testing", 9),         # test support (the zoo, the ONNX backend)
    ("lpfc.nas", 9.5),           # architecture search: above the oracle and the compiler, below the CLI
    ("lpfc.nas.cli", 10),        # `lpfc nas`
    ("lpfc.cli", 10),            # the command line and what only it uses
    ("lpfc.cli_signals", 10),
    ("lpfc.cost.cli", 10),       # `lpfc estimate` / `lpfc calibrate`
    ("lpfc.__main__", 10),
    ("lpfc", 10),                # the package itself (this entry only, not its modules): the public API
]

#: The layers that must never import the command line, not even inside a function (issue #11, item 1).
NEVER_IMPORT_CLI = ("lpfc.ir", "lpfc.frontend", "lpfc.passes", "lpfc.poly", "lpfc.codegen", "lpfc.compiler",
                    "lpfc.explain", "lpfc.tune", "lpfc.interp", "lpfc.runtime")

#: Backward imports that exist today, (importing module, imported module), each with the item of issue #11
#: that removes it. Remove an entry together with the import; never add one.
KNOWN_VIOLATIONS: set = set()   # #11 item 2 removed the last ones (loop dialect, poly -> codegen, codegen -> tune)


def layer_of(module: str) -> int:
    best = None
    for prefix, layer in LAYERS:
        if module == prefix or (prefix != "lpfc" and module.startswith(prefix + ".")):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    if best is None:
        raise LookupError(module)
    return best[1]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str, root: Path) -> bool:
    rel = Path(*name.split("."))
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def imports_of(source: str, module: str, is_package: bool, root: Path) -> list[tuple[str, int]]:
    """(lpfc module imported, line) for every import statement in ``source``, at any depth.

    ``from X import a`` counts as importing ``X.a`` when that is a module, else ``X``; relative imports are
    resolved against ``module``. ``root`` is the directory holding the ``lpfc`` package."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            targets = []
            for a in node.names:
                sub = f"{base_name}.{a.name}"
                if _is_module(sub, root):
                    targets.append(sub)
                elif base_name == "lpfc" and a.name == "__version__":
                    targets.append("lpfc.__version__")
                else:
                    targets.append(base_name)
        else:
            continue
        out += [(t, node.lineno) for t in targets if t == "lpfc" or t.startswith("lpfc.")]
    return out


def all_imports(root: Path = ROOT) -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every lpfc module under ``root``/lpfc."""
    edges = []
    for path in sorted((root / "lpfc").rglob("*.py")):
        mod = module_name(path, root)
        for target, line in imports_of(path.read_text(), mod, path.name == "__init__.py", root):
            edges.append((mod, target, line))
    return edges


def backward_imports(edges) -> set[tuple[str, str]]:
    return {(a, b) for a, b, _ in edges if layer_of(b) > layer_of(a)}


EDGES = all_imports()


def test_every_module_has_a_layer():
    missing = sorted({m for e in EDGES for m in e[:2] if _layer_or_none(m) is None}
                     | {module_name(p, ROOT) for p in PACKAGE.rglob("*.py")
                        if _layer_or_none(module_name(p, ROOT)) is None})
    assert not missing, f"give these modules a layer in LAYERS (tests/test_layering.py): {missing}"


def _layer_or_none(m):
    try:
        return layer_of(m)
    except LookupError:
        return None


def test_the_library_never_imports_the_cli():
    bad = [f"{a}:{line} imports {b}" for a, b, line in EDGES
           if layer_of(b) == layer_of("lpfc.cli") and b != "lpfc" and a.startswith(NEVER_IMPORT_CLI)]
    assert not bad, "the library must not import the command line:\n" + "\n".join(bad)


def test_no_new_backward_import():
    found = backward_imports(EDGES)
    new = sorted(found - KNOWN_VIOLATIONS)
    lines = {(a, b): line for a, b, line in EDGES}
    assert not new, ("a lower layer imports a higher one (docs/design.md, \"Layers\"):\n"
                     + "\n".join(f"  {a}:{lines[a, b]} imports {b}" for a, b in new))


def test_known_violations_still_occur():
    gone = sorted(KNOWN_VIOLATIONS - backward_imports(EDGES))
    assert not gone, ("fixed, well done: remove these from KNOWN_VIOLATIONS in tests/test_layering.py: "
                      + ", ".join(f"{a} -> {b}" for a, b in gone))


def design_doc_layers(text: str) -> set[tuple[str, float]]:
    """(module, layer) of every row of docs/design.md's layer table ("| layer | modules | may import |")."""
    rows = set()
    for line in text.splitlines():
        m = re.match(r"\|\s*([0-9.]+)\s*\|([^|]*)\|", line)
        if m:
            for path in re.findall(r"`(lpfc/[^`]*)`", m.group(2)):
                name = path.rstrip("/").removesuffix(".py").replace("/", ".")
                rows.add(("lpfc" if name == "lpfc.__init__" else name, float(m.group(1))))
    return rows


def test_the_design_doc_draws_these_layers():
    documented = design_doc_layers((ROOT / "docs" / "design.md").read_text())
    enforced = {(prefix, float(layer)) for prefix, layer in LAYERS if prefix != "lpfc.__version__"}
    assert documented == enforced, ("docs/design.md's layer table and LAYERS disagree: only in the doc "
                                    f"{sorted(documented - enforced)}, only in LAYERS {sorted(enforced - documented)}")


# -- the checker itself can fail ------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "def f():\n    from ..cli import load_module\n",          # a function-level relative import
    "import lpfc.cli\n",
    "from lpfc import cli\n",
    "class C:\n    def m(self):\n        from lpfc.cli import main\n",
])
def test_checker_finds_a_hidden_cli_import(source):
    found = imports_of(source, "lpfc.codegen.model_gen", False, ROOT)
    assert [t for t, _ in found] == ["lpfc.cli"]
    assert backward_imports([("lpfc.codegen.model_gen", t, ln) for t, ln in found]) == {
        ("lpfc.codegen.model_gen", "lpfc.cli")}


def test_checker_resolves_relative_imports():
    src = "from . import dialects\nfrom .. import __version__\nfrom ..errors import LpfcError\nfrom .core import Op\n"
    found = [t for t, _ in imports_of(src, "lpfc.ir.opdef", False, ROOT)]
    assert found == ["lpfc.ir.dialects", "lpfc.__version__", "lpfc.errors", "lpfc.ir.core"]
    assert not backward_imports([("lpfc.ir.opdef", t, 1) for t in found])
