"""Check that imports point one way: core's layers downwards, core never into dashboard or streamlit, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# core's subpackages from the bottom up; each may import only itself, those before it and core's top modules.
CORE_LAYERS = ("data", "nn", "inspect", "runs", "sweeps", "cli")
CORE_TOP = {path.stem for path in (ROOT / "core").glob("*.py")} - {"__init__", "__main__"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, lazily or not, as absolute dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _python_files(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py") if "__pycache__" not in path.parts)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "core" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in CORE_LAYERS else "top"


def test_core_layers_import_only_downwards():
    """Check that no core module imports a layer above its own (data -> nn -> inspect -> runs -> sweeps -> cli)."""
    order = {"top": -1, **{name: index for index, name in enumerate(CORE_LAYERS)}}
    upward = []
    for path in _python_files("core"):
        if _module_name(path) in {"core", "core.__main__"}:  # the entry point may import the CLI
            continue
        own = _layer(_module_name(path))
        for imported in _imports(path):
            target = _layer(imported)
            if target is not None and target != "top" and order[target] > order[own]:
                upward.append(f"{_module_name(path)} -> {imported}")
    assert upward == []


def test_core_never_imports_streamlit_and_only_the_report_command_imports_dashboard():
    """Check that core has no UI code, except `python -m core report`, which lazily imports the report
    (drawn by the pages' own figure builders) and quiets the Streamlit logger of their caches."""
    found = []
    for path in _python_files("core"):
        for imported in _imports(path):
            if imported.split(".")[0] in {"streamlit", "dashboard"}:
                found.append(f"{_module_name(path)} -> {imported}")
    allowed = {entry for entry in found if entry.startswith(("core.cli.report -> dashboard.report",
                                                             "core.cli.report -> streamlit.logger"))}
    assert sorted(set(found) - allowed) == []


def test_inspect_never_imports_tensorflow_or_the_run_store():
    """Check that reading a run's analysis needs neither TensorFlow nor the store (a page never loads a model)."""
    found = [f"{_module_name(path)} -> {imported}" for path in _python_files("core/inspect")
             for imported in _imports(path)
             if imported.split(".")[0] in {"tensorflow", "keras"} or imported.startswith("core.runs")]
    assert found == []


@pytest.mark.parametrize("package", ["core", "dashboard"])
def test_no_import_cycle_between_modules(package):
    """Check that the graph of module-level imports inside a package has no cycle."""
    modules = {_module_name(path): path for path in _python_files(package)}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top_level = set()
        for node in tree.body:  # module-level imports only: a lazy import inside a function cannot cycle at import
            if isinstance(node, ast.Import):
                top_level.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top_level.add(node.module)
                top_level.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = sorted(target for target in top_level if target in modules and target != name)
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in graph[node]:
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
