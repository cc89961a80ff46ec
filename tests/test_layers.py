"""The dependency direction of DESIGN.md: ``backend`` and ``public_site`` never import ``workers``.

The web process is the backend and the public site; the workers import them, never the other
way round, so that the web never loads what only the workers need (spaCy, the scan
statistics...). Jobs are queued by their dotted path instead. The runtime side is checked by
``tests/staff/test_triage_api.py`` and ``tests/workers/test_classification.py``.
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
