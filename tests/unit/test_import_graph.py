"""The import graph of teahouse's own modules has no cycles, and the layers point one way.

Every ``import`` counts, wherever it is written (inside functions and ``TYPE_CHECKING``
blocks too): a cycle hidden in a function is still a cycle a reader has to untangle.
``from package import module`` depends on the module, not on the package's ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import teahouse

ROOT = Path(teahouse.__file__).parent

LAYERS = {
    # a package may import from these teahouse packages (and from itself)
    "protocol": {"errors"},
    "store": {"errors", "protocol"},
    "core": {"errors", "protocol", "store", "config", "logs", "logsupport"},
    "doors": {"errors", "protocol", "store", "config", "core", "logs", "logsupport", "__init__"},
}
"""Data flows one way: socket -> door -> codec -> core -> store. The core knows no door."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` depends on pkg.mod when that is a module, else on pkg.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for imported in names:
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != here:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_among_teahouse_modules() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_point_one_way() -> None:
    wrong = []
    for module, targets in graph().items():
        parts = module.split(".")
        layer = parts[1] if len(parts) > 1 else ""
        allowed = LAYERS.get(layer)
        if allowed is None:
            continue
        for target in targets:
            target_layer = target.split(".")[1] if "." in target else "__init__"
            if target_layer != layer and target_layer not in allowed:
                wrong.append(f"{module} -> {target}")
    assert wrong == []
