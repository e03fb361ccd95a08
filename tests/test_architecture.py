"""The layer rules of docs/architecture.md, checked on the source tree itself.

Each module of ``analytics`` and ``dashboard`` has a layer; a module may import its own layer and the
layers below it, never one above. Imports made only for type checking (under ``TYPE_CHECKING``) do
not count. No import cycles at module level; no imports of the package's own modules inside
functions unless a comment on the line before says it defers a heavy dependency. SQL text appears
only in the store layer and in the indicator queries.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Layers, lowest first. A module's layer is that of the longest prefix listed here.
LAYERS: dict[str, int] = {
    # core types and rules
    "analytics": 0,
    "analytics.errors": 0,
    "analytics.settings": 0,
    "analytics.taxonomy": 0,
    "analytics.cards": 0,
    "analytics.records": 0,
    "analytics.periods": 0,
    # pure compute
    "analytics.stats": 1,
    "analytics.trust": 1,
    "analytics.indicators": 1,
    "analytics.formatting": 1,
    "analytics.exports": 1,
    "analytics.footage.geometry": 1,
    "analytics.footage.measure": 1,
    "analytics.footage.temporal": 1,
    "analytics.footage.refine": 1,
    "analytics.footage.distress": 1,
    "analytics.evaluation.metrics": 1,
    "analytics.evaluation.adjust": 1,
    "analytics.evaluation.select": 1,
    "analytics.evaluation.heads": 1,
    "analytics.visual.layers": 1,
    "analytics.visual.clicks": 1,
    # adapters (files, models, the database, places)
    "analytics.footage": 2,
    "analytics.models": 2,
    "analytics.store": 2,
    "analytics.geo": 2,
    "analytics.samples": 2,
    "analytics.evaluation": 2,
    # orchestration and outputs
    "analytics.footage.pipeline": 3,
    "analytics.footage.cluster": 3,
    "analytics.footage.upload": 3,
    "analytics.footage.batch": 3,
    "analytics.footage.runner": 3,
    "analytics.footage.scheduling": 2,
    "analytics.footage.stages": 2,
    "analytics.footage.options": 2,
    "analytics.pages": 3,
    "analytics.evaluation.run": 3,
    "analytics.evaluation.annotate": 3,
    "analytics.evaluation.apply": 3,
    "analytics.evaluation.adapt": 3,
    "analytics.visual": 3,
    "analytics.reports": 3,
    "analytics.demo": 3,
    # faces
    "analytics.cli": 4,
    "dashboard": 4,
}

SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|VIEW|INDEX))\b", re.IGNORECASE | re.DOTALL)
SQL_ALLOWED = ("analytics.store", "analytics.indicators")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in ("analytics", "dashboard"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def layer(module: str) -> int:
    """The layer of ``module``: that of the longest listed prefix."""
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _resolve(name: str) -> str | None:
    """The module of ours that ``import name`` / ``from name import ...`` reaches, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(module-level imports, imports inside functions) of our own modules, with line numbers."""
    top: list[tuple[str, int]] = []
    inner: list[tuple[str, int]] = []

    def names(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        # ``from analytics.store import catalog`` imports the submodule when there is one
        return [base] + [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                for n in names(child):
                    ours = _resolve(n)
                    if ours is not None:
                        (inner if in_function else top).append((ours, child.lineno))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return top, inner


PARSED = {m: (p, ast.parse(p.read_text(encoding="utf-8"))) for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    _, tree = PARSED[module]
    top, inner = _imports(tree)
    upward = [(m, line) for m, line in top + inner if layer(m) > layer(module) and not module.startswith(m + ".")]
    assert not upward, f"{module} (layer {layer(module)}) imports higher layers: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_hidden_imports_inside_functions(module: str) -> None:
    path, tree = PARSED[module]
    lines = path.read_text(encoding="utf-8").splitlines()
    _, inner = _imports(tree)
    hidden = []
    for m, line in inner:
        before = " ".join(lines[max(0, line - 3):line - 1]).lower()
        if "deferred" not in before:
            hidden.append((m, line))
    assert not hidden, f"{module} imports our modules inside functions without a 'deferred: why' comment: {hidden}"


def test_no_import_cycles() -> None:
    graph = {m: {d for d, _ in _imports(tree)[0] if d != m and not m.startswith(d + ".")} for m, (_, tree) in PARSED.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strong(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    assert not cycles, f"import cycles: {cycles}"


def _text(node: ast.expr) -> str:
    """A string literal's text; an f-string's with ``{}`` where its values go."""
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return str(node.value) if isinstance(node, ast.Constant) else ""


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith(SQL_ALLOWED)))
def test_sql_only_in_the_store_layer(module: str) -> None:
    _, tree = PARSED[module]
    strings = [_text(n) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) or (isinstance(n, ast.Constant) and isinstance(n.value, str))]
    found = [s[:60] for s in strings if SQL.search(s)]
    assert not found, f"{module} contains SQL: {found}"


def test_analytics_never_imports_streamlit() -> None:
    offenders = [m for m, (_, tree) in PARSED.items() if m.startswith("analytics") and any(
        (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "streamlit" for a in n.names))
        or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "streamlit")
        for n in ast.walk(tree))]
    assert not offenders, f"analytics modules import streamlit: {offenders}"


@pytest.mark.parametrize(("module", "expected"), [
    ("analytics.errors", 0),            # core
    ("analytics.footage.measure", 1),   # pure compute inside the footage package
    ("analytics.footage.video", 2),     # an adapter: the package's default
    ("analytics.footage.pipeline", 3),  # orchestration
    ("analytics.cli.city", 4),          # a face
])
def test_layer_lookup(module: str, expected: int) -> None:
    assert layer(module) == expected
