"""smlp's modules import one way only: no cycle, and no backend reaching up into a stage or the CLI.

The graph is read from the source with ``ast``, so every import counts, wherever it is written:
top level, inside functions, under ``if TYPE_CHECKING:``. ``from pkg import name`` imports
``pkg.name`` when that is a module, else ``pkg``; relative imports are resolved.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import smlp

ROOT = Path(smlp.__file__).parent


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imported(node: ast.AST, package: str, known: dict[str, Path]) -> list[str]:
    """The smlp modules one import statement names (``package``: the importer's package)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                 for alias in node.names]
    else:
        return []
    found = []
    for name in names:
        while name and name not in known:  # `import smlp.a.b` names smlp.a.b, a module
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            edges.update(t for t in imported(node, package, known) if t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The reader itself: function-level, relative and ``from pkg import module`` imports."""
    pkg = tmp_path / "smlp"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from smlp.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from . import c\nfrom .c import NAME\n")
    (pkg / "sub" / "c.py").write_text("from smlp import a\nNAME = 1\n")
    graph = import_graph(pkg)
    assert graph["smlp.a"] == {"smlp.sub.b"}
    assert graph["smlp.sub.b"] == {"smlp.sub.c"}
    assert cycles(graph) == [["smlp.a", "smlp.sub.b", "smlp.sub.c"]]


def test_no_module_imports_one_that_imports_it_back() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("upper", ["smlp.stages", "smlp.cli"])
def test_no_backend_imports_a_stage_or_the_cli(upper: str) -> None:
    graph = import_graph()
    wrong = sorted(f"{module} -> {target}" for module, targets in graph.items()
                   if module.startswith("smlp.backends") for target in targets
                   if target == upper or target.startswith(upper + "."))
    assert not wrong, f"a backend imports {upper}: " + ", ".join(wrong)
