"""The package's import graph: no circle between modules, nothing running back up a layer, no private name
imported from another file.

The layers (docs/index.md): the shared private helpers at the bottom, then the pure functions, the modules,
the backbones, the metrics and the data, then training (itself stacked: config, data, method, report, run,
then its command modules), then deploy on top. A module may import from its own layer and those below it.
Imports inside functions count too; ``if TYPE_CHECKING`` imports do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import recognizability

PACKAGE = Path(recognizability.__file__).parent

#: Module-name prefixes, lowest layer first; a module belongs to the longest prefix that matches it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("recognizability._validation", "recognizability._deprecation", "recognizability._files",
     "recognizability._figures", "recognizability._version"),
    ("recognizability.functional",),
    ("recognizability.nn",),
    ("recognizability.backbones",),
    ("recognizability.metrics", "recognizability.data"),
    ("recognizability.training.config",),
    ("recognizability.training.data",),
    ("recognizability.training.method",),
    ("recognizability.training.report",),
    ("recognizability.training.run",),
    ("recognizability.training",),
    ("recognizability.deploy",),
    ("recognizability",),
)  # fmt: skip
#: Packages that are not allowed to know each other although neither is above the other.
APART: tuple[tuple[str, str], ...] = (("recognizability.metrics", "recognizability.data"),)


def _module_name(path: Path) -> str:
    parts = ["recognizability", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    if module.split(".")[0] != "recognizability":
        return False
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node) if child is not node)
            skipped.add(id(node))
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def _imports(path: Path) -> dict[str, list[str]]:
    """The package's modules that ``path`` imports, each with the names imported from it."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: dict[str, list[str]] = {}
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names = [alias.name for alias in node.names]
            submodules = [f"{target}.{n}" for n in names if _exists(f"{target}.{n}")]
            others = [n for n in names if f"{target}.{n}" not in submodules]
            if others and _exists(target):
                found.setdefault(target, []).extend(others)
            for submodule in submodules:
                found.setdefault(submodule, [])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("recognizability") and _exists(alias.name):
                    found.setdefault(alias.name, [])
    found.pop(name, None)
    return found


GRAPH = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> tuple[int, str]:
    best = max(
        ((i, prefix) for i, group in enumerate(LAYERS) for prefix in group
         if module == prefix or module.startswith(prefix + ".")),
        key=lambda item: len(item[1]),
    )  # fmt: skip
    return best


def test_no_import_circle_between_modules() -> None:
    # A package's __init__ re-exporting its own modules is no circle of the modules themselves.
    graph = {
        name: {t for t in targets if not (t in GRAPH and name.startswith(t + "."))}
        for name, targets in GRAPH.items()
    }
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


def test_nothing_imports_upwards() -> None:
    upward = []
    for name, targets in GRAPH.items():
        level, prefix = _layer(name)
        for target in targets:
            target_level, target_prefix = _layer(target)
            # a package's own __init__ may re-export what lives below it
            if target_level > level and not target.startswith(name + "."):
                upward.append(f"{name} ({prefix}) imports {target} ({target_prefix})")
            if {prefix, target_prefix} in [set(pair) for pair in APART]:
                upward.append(f"{name} imports {target}: {prefix} and {target_prefix} stay apart")
    assert not upward, "\n".join(upward)


def test_no_private_name_of_another_file_is_imported() -> None:
    private = [
        f"{name} imports {target}.{imported}"
        for name, targets in GRAPH.items()
        for target, names in targets.items()
        for imported in names
        if imported.startswith("_") and not imported.startswith("__")
    ]
    assert not private, "\n".join(private)


@pytest.mark.parametrize("sub", ["config", "data", "method", "report", "run"])
def test_each_training_sub_package_says_what_it_owns(sub: str) -> None:
    module = __import__(f"recognizability.training.{sub}", fromlist=["__doc__"])
    assert module.__doc__ and "owns" in module.__doc__


def test_training_top_level_holds_sub_packages_and_command_modules_only() -> None:
    training = PACKAGE / "training"
    files = sorted(p.name for p in training.iterdir() if p.is_file() and p.suffix == ".py")
    assert files == ["__init__.py", "cli.py", "plots.py", "pretrain.py"]
    packages = sorted(p.name for p in training.iterdir() if (p / "__init__.py").is_file())
    assert packages == ["config", "data", "method", "report", "run"]
