"""The dependency direction of DESIGN.md: ``backend`` and ``public_site`` never import ``workers``.

The web process is the backend and the public site; the workers import them, never the other
way round, so that the web never loads what only the workers need (spaCy, the scan
statistics, folium and the suppression's linear algebra...). Jobs are queued by their dotted
path instead. The runtime side is checked by ``tests/staff/test_triage_api.py`` and
``tests/workers/test_classification.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_the_web_never_imports_the_workers() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in ("backend", "public_site")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in _imports(path)
        if module == "workers" or module.startswith("workers.")
    ]
    assert offenders == []


# What only the workers need to compute: folium draws the public maps at publication, numpy and
# scipy audit the suppression (``workers/publication/``), statsmodels fits the events' risk
# profiles (``workers/events/``). The web reads what they stored.
HEAVY_FOR_THE_WEB = ("folium", "numpy", "scipy", "statsmodels")
# The one exception, on purpose: the staff signals page draws its map with folium in the web
# process, inside ``signals_map`` only (signals change with each detection and are filtered
# per request, so there is nothing to draw ahead), and only for an analyst who opens it.
WEB_MAY_IMPORT = {("backend/staff/signals.py", "folium")}


def test_the_web_never_imports_folium_numpy_or_scipy() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in ("backend", "public_site")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in _imports(path)
        if module.split(".")[0] in HEAVY_FOR_THE_WEB
        and (path.relative_to(ROOT).as_posix(), module.split(".")[0]) not in WEB_MAY_IMPORT
    ]
    assert offenders == []


def test_the_one_exception_is_still_there() -> None:
    """The exception is narrow: if the staff signals page stops drawing with folium, drop it."""
    for file, module in WEB_MAY_IMPORT:
        assert module in {m.split(".")[0] for _, m in _imports(ROOT / file)}


# --------------------------------------------------------------------------------------------
# No import cycle among the project's modules (DESIGN.md): function-level imports count, since
# they hide a cycle rather than break it.
# --------------------------------------------------------------------------------------------

PACKAGES = ("backend", "nlp", "workers", "public_site")


def _module_names() -> dict[str, Path]:
    names = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names[".".join(parts)] = path
    return names


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports, anywhere in its body (functions included)."""
    modules = _module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # ``from package import module`` imports the module; otherwise the names
                # come from ``base`` itself
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]  # ``import a.b.c`` of a non-module c
                if target and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_import_graph_sees_function_level_imports() -> None:
    graph = _import_graph()
    # workers/jobs.py imports workers.linking inside its job functions only
    assert "workers.linking" in graph["workers.jobs"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_projects_modules() -> None:
    assert _cycles(_import_graph()) == []
