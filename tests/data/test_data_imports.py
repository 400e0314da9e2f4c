"""The data package has no import cycles, and names defined once are imported, not redefined."""

from __future__ import annotations

import ast
from pathlib import Path

import recognizability.data as data_package
from recognizability.data import SYNTHETIC_MARKER, metadata
from recognizability.data.synthetic import layouts

PACKAGE = Path(data_package.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["recognizability", "data", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules of recognizability.data that ``path`` imports, anywhere in the file (local imports too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            if candidate.startswith("recognizability.data") and _exists(candidate):
                found.add(candidate)
    found.discard(name)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[2:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def test_no_import_cycles_between_modules() -> None:
    graph = {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}
    # A package's __init__ re-exporting its own modules is not a cycle of the modules themselves.
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not (t in graph and name.startswith(t + "."))}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        assert node not in visiting, " -> ".join([*visiting[visiting.index(node) :], node])
        if node in done:
            return
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    # The scan sees imports (this test cannot pass on an empty graph): render draws what identities defines.
    render, identities = "recognizability.data.synthetic.render", "recognizability.data.synthetic.identities"
    assert identities in graph[render] and render not in graph[identities]


def test_the_marker_name_is_defined_once() -> None:
    assert SYNTHETIC_MARKER == "SYNTHETIC.txt"
    assert layouts.PROVENANCE_FILENAME is metadata.SYNTHETIC_MARKER
    assert layouts.METADATA_FILENAME is metadata.METADATA_FILENAME
    literal = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(
            isinstance(node, ast.Constant) and node.value == "SYNTHETIC.txt"
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert literal == ["metadata.py"]
