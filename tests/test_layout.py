"""The arrows of the code: no import circle in the service, and the API never reaches the worker."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).parent.parent / "service"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SERVICE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path) -> set[str]:
    """The service modules imported when ``path`` is (module level; not under TYPE_CHECKING)."""
    found: set[str] = set()
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.If) and not _is_type_checking(node):
            body.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            body.extend(node.body + node.orelse + node.finalbody)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "service" or name.startswith("service.")}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in SERVICE.rglob("*.py")}
    return {name: _imports(path) & modules.keys() - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        trail.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[name] = "done"
        trail.pop()
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_module_of_the_service_imports_itself_round_a_circle() -> None:
    graph = _graph()
    # A package imports its own modules in its __init__: that is not a circle back to it.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(f"{t}.") and t != "service"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_api_depends_on_the_ingest_wing_only_for_its_status() -> None:
    for path in (SERVICE / "api").glob("*.py"):
        reached = {name for name in _imports(path) if name.startswith("service.ingest")}
        assert reached <= {"service.ingest.status", "service.ingest.status.ConsumerState"}, path


def test_the_settings_do_not_import_what_they_configure() -> None:
    imported = _imports(SERVICE / "config.py")
    assert all(
        name.startswith(
            (
                "service.drift.defaults",
                "service.events",
                "service.feedback.defaults",
                "service.strategies.config",
            )
        )
        for name in imported
    ), imported
