"""The import rule of docs/architecture.md, read from the code's own imports.

Every ``import`` statement of every module under ``src/faceaudit`` counts — those inside
functions and under ``TYPE_CHECKING`` too. A layer may import only from layers below it; two
packages of one rank (gallery, ledger) may not import each other; no module imports a private
name of another; and no two modules import each other, directly or round a longer loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "faceaudit"

#: rank of each layer package: a module may import from a strictly lower rank, or its own package
LAYERS = {
    "cli": 9,
    "service": 8,
    "deployment": 7,
    "policy": 6,
    "audit": 5,
    "footage": 4,
    "engine": 3,
    "gallery": 2,
    "ledger": 2,
    "base": 1,
}
#: the package's face: modules at the top that may import any layer (and that no layer imports)
FACE = {"faceaudit", "faceaudit.__main__", "faceaudit.api"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every faceaudit import of a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names
                      if a.name.split(".")[0] == "faceaudit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "faceaudit":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:
                    found.append((submodule, None, node.lineno))
                else:
                    found.append((target, alias.name, node.lineno))
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and module not in FACE else None


EDGES = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_belongs_to_a_layer_or_the_face():
    loose = [m for m in MODULES if m not in FACE and _layer(m) not in LAYERS]
    assert not loose, f"modules outside every layer (docs/architecture.md): {loose}"


def test_no_import_runs_up_or_sideways():
    wrong = []
    for module, imports in EDGES.items():
        source = _layer(module)
        for target, _name, line in imports:
            if target == "faceaudit":  # the package root holds only __version__
                continue
            if target in FACE and source is not None:
                wrong.append(f"{module}:{line} imports the package face {target}")
                continue
            dest = _layer(target)
            if source is None or dest is None or dest == source:
                continue
            if LAYERS[dest] >= LAYERS[source]:
                wrong.append(f"{module}:{line} ({source}) imports {target} ({dest})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_no_private_name_is_imported_from_another_module():
    private = [f"{m}:{line} takes {name} from {target}"
               for m, imports in EDGES.items() for target, name, line in imports
               if name and name.startswith("_") and not name.startswith("__")]
    assert not private, "private names imported across modules:\n" + "\n".join(private)


def test_no_cycle_between_modules():
    graph = {m: {t for t, _n, _l in imports if t in MODULES and t != m and not MODULES[t].name
                 == "__init__.py"} for m, imports in EDGES.items()}
    cycles = _cycles(graph)
    assert not cycles, "modules that import each other:\n" + "\n".join(
        " -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_docs_name_every_layer(layer):
    text = (SRC.parent / "docs" / "architecture.md").read_text()
    assert f"`{layer}/`" in text, f"docs/architecture.md does not describe the {layer}/ layer"
