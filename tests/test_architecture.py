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
    # core types and rules (and the default of any flat module of analytics/)
    "analytics": 0,
    "analytics.errors": 0,
    "analytics.settings": 0,
    "analytics.taxonomy": 0,
    "analytics.cards": 0,
    "analytics.records": 0,
    "analytics.periods": 0,
    "analytics.links": 0,
    "analytics.selection": 0,
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
    "analytics.footage.track": 1,
    "analytics.footage.lines": 1,
    "analytics.footage.calibration": 1,
    "analytics.evaluation.metrics": 1,
    "analytics.evaluation.adjust": 1,
    "analytics.evaluation.select": 1,
    "analytics.evaluation.heads": 1,
    "analytics.visual.layers": 1,
    "analytics.visual.clicks": 1,
    # adapters (files, models, the database, places); a package name is the default of its modules
    "analytics.footage": 2,
    "analytics.models": 2,
    "analytics.store": 2,
    "analytics.evaluation": 2,
    "analytics.geo": 2,
    "analytics.checksums": 2,
    "analytics.gpstrack": 2,
    "analytics.gis": 2,
    "analytics.alerts": 2,
    # orchestration and outputs
    "analytics.footage.pipeline": 3,
    "analytics.footage.runner": 3,
    "analytics.footage.batch": 3,
    "analytics.footage.cluster": 3,
    "analytics.footage.supervise": 3,
    "analytics.evaluation.run": 3,
    "analytics.evaluation.annotate": 3,
    "analytics.evaluation.apply": 3,
    "analytics.evaluation.adapt": 3,
    "analytics.visual": 3,
    "analytics.reports": 3,
    "analytics.demo": 3,
    "analytics.pages": 3,
    "analytics.footage.watch": 3,
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


# -- the layer table of docs/architecture.md, package direction, sizes, public names --------------

DOC = REPO / "docs" / "architecture.md"
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 10
MAX_MODULE_LINES = 800
PARAMETER_EXEMPT = ("analytics.cli",)  # typer commands take one parameter per option


def _doc_layers() -> dict[str, int]:
    """The layer table of docs/architecture.md as {module prefix: layer}.

    A row reads ``| 2 adapters | `footage` (video, ...), `store/parquet` | ... |``; a name ``a/b`` is the
    module ``analytics.a.b``, ``analytics`` the package itself, ``dashboard`` the app; notes in
    brackets are not names.
    """
    table: dict[str, int] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        row = re.match(r"\|\s*(\d)\s+[a-z ]+\|([^|]*)\|", line)
        if not row:
            continue
        for name in re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", row.group(2))):  # not the notes in brackets
            dotted = name.removesuffix(".py").replace("/", ".")
            module = dotted if dotted in ("analytics", "dashboard") or dotted.startswith("dashboard.") else f"analytics.{dotted}"
            table[module] = int(row.group(1))
    return table


def test_the_documented_layers_are_the_enforced_ones() -> None:
    documented = _doc_layers()
    missing = sorted(set(LAYERS) - set(documented))
    extra = sorted(set(documented) - set(LAYERS))
    moved = sorted(m for m in set(LAYERS) & set(documented) if LAYERS[m] != documented[m])
    assert not (missing or extra or moved), (
        f"docs/architecture.md's layer table differs from LAYERS: not in the doc {missing}, "
        f"not enforced {extra}, in another layer {moved}")


def _type_only_imports(tree: ast.Module) -> list[tuple[str, int]]:
    """Our modules imported under ``if TYPE_CHECKING:``."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in ast.walk(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    base = child.module if isinstance(child, ast.ImportFrom) else None
                    names = [a.name for a in child.names] if base is None else [base] + [
                        f"{base}.{a.name}" for a in child.names if f"{base}.{a.name}" in MODULES]
                    found += [(m, child.lineno) for m in map(_resolve, names) if m is not None]
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_type_only_imports_go_down_the_layers_too(module: str) -> None:
    _, tree = PARSED[module]
    upward = [(m, line) for m, line in _type_only_imports(tree) if layer(m) > layer(module) and not module.startswith(m + ".")]
    assert not upward, f"{module} (layer {layer(module)}) imports higher layers for typing: {upward}"


def package(module: str) -> str:
    """The package a module belongs to: ``analytics.store`` for ``analytics.store.ingest``;
    ``analytics`` for the flat core modules; ``dashboard`` for the app.

    >>> package("analytics.store.ingest"), package("analytics.settings"), package("dashboard.views.overview")
    ('analytics.store', 'analytics', 'dashboard')
    """
    parts = module.split(".")
    if parts[0] == "dashboard":
        return "dashboard"
    if len(parts) >= 2 and (REPO / "analytics" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return "analytics"


def _all_imports(tree: ast.Module) -> list[str]:
    top, inner = _imports(tree)
    return [m for m, _ in top + inner + _type_only_imports(tree)]


def test_flat_core_modules_import_no_sub_package() -> None:
    offenders = {m: sorted({d for d in _all_imports(tree) if package(d) != "analytics"})
                 for m, (_, tree) in PARSED.items() if m.startswith("analytics") and package(m) == "analytics"}
    offenders = {m: d for m, d in offenders.items() if d}
    assert not offenders, f"flat modules of analytics/ (the core) import sub-packages: {offenders}"


def test_packages_import_one_way() -> None:
    edges: dict[str, set[str]] = {}
    for m, (_, tree) in PARSED.items():
        for d in _all_imports(tree):
            if package(d) != package(m):
                edges.setdefault(package(m), set()).add(package(d))
    both = sorted({tuple(sorted((a, b))) for a, targets in edges.items() for b in targets if a in edges.get(b, set())})
    assert not both, f"packages that import each other: {both}"


def test_type_only_imports_make_no_cycles() -> None:
    graph = {m: {d for d in _all_imports(tree) if d != m and not m.startswith(d + ".")} for m, (_, tree) in PARSED.items()}
    order: dict[str, int] = {}
    done: set[str] = set()
    cycle: list[str] = []

    def visit(v: str, path: list[str]) -> bool:
        order[v] = len(order)
        for w in sorted(graph.get(v, ())):
            if w in path:
                cycle.extend(path[path.index(w):] + [w])
                return True
            if w not in done and visit(w, [*path, w]):
                return True
        done.add(v)
        return False

    for v in sorted(graph):
        if v not in done and visit(v, [v]):
            break
    assert not cycle, f"an import cycle, type-only imports counted: {' -> '.join(cycle)}"


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def parameter_count(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Parameters a caller can pass: positional, keyword-only, ``*args`` and ``**kwargs`` (one each),
    not ``self`` or ``cls``."""
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    if positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    return len(positional) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_sizes(module: str) -> None:
    path, tree = PARSED[module]
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    problems = [f"{n_lines} lines (at most {MAX_MODULE_LINES})"] if n_lines > MAX_MODULE_LINES else []
    for fn in _functions(tree):
        length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
        if length > MAX_FUNCTION_LINES:
            problems.append(f"{fn.name} (line {fn.lineno}) is {length} lines long (at most {MAX_FUNCTION_LINES})")
        if not module.startswith(PARAMETER_EXEMPT) and parameter_count(fn) > MAX_PARAMETERS:
            problems.append(f"{fn.name} (line {fn.lineno}) takes {parameter_count(fn)} parameters (at most {MAX_PARAMETERS})")
    assert not problems, f"{module}: {'; '.join(problems)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_names_its_public_names(module: str) -> None:
    _, tree = PARSED[module]
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    assert "__all__" in assigned, f"{module} has no __all__"


def _private_uses(tree: ast.Module) -> list[str]:
    """``from analytics.x import _name`` and ``module._name`` where ``module`` is one of ours."""
    ours: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("analytics", "dashboard"):
            for a in node.names:
                if a.name.startswith("_"):
                    found.append(f"{node.module}.{a.name} (line {node.lineno})")
                elif f"{node.module}.{a.name}" in MODULES:
                    ours.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            ours |= {a.asname for a in node.names if a.asname and a.name.split(".")[0] in ("analytics", "dashboard")}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ours
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


@pytest.mark.parametrize("path", sorted((REPO / "tests").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO / "tests")))
def test_tests_use_public_names(path: Path) -> None:
    found = _private_uses(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{path.relative_to(REPO)} reaches private names of the package: {found}"
