"""handoff/ is the pure core: it imports only the standard library and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_domain_imports_only_the_standard_library_and_itself():
    allowed = set(sys.stdlib_module_names) | {"handoff", "__future__"}
    foreign = {name: files for name, files in _imports("handoff").items() if name not in allowed}
    assert foreign == {}


def test_imports_point_inward():
    outer = {"api", "worker", "cli"}
    for inner in ("handoff", "adapters", "labels"):
        leaks = {name: files for name, files in _imports(inner).items() if name in outer}
        assert leaks == {}, f"{inner} imports {leaks}"
    assert "adapters" not in _imports("labels") and "labels" not in _imports("adapters")


def test_routes_do_not_import_the_app():
    """The composition root imports the routes, never the other way round: the app's keys live in
    api/keys.py, so ``app ↔ routes`` is no circle."""
    for path in [*(ROOT / "api" / "routes").rglob("*.py"), ROOT / "api" / "pages.py", ROOT / "api" / "documents.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "api.app":
                raise AssertionError(f"{path.relative_to(ROOT)} imports api.app")
            if isinstance(node, ast.Import) and any(a.name == "api.app" for a in node.names):
                raise AssertionError(f"{path.relative_to(ROOT)} imports api.app")
