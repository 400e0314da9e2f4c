"""Every code block of the README and of every page of docs/ runs as written, in page order.

The rule (docs/index.md, "Code blocks"): a fenced block labelled ``python``, ``bash`` or ``sh`` is code and
runs; its page's python blocks share one namespace, fresh for each page, so a page declares its stand-ins
before the blocks that use them. A block whose first line is ``# fragment: <why>`` is only a fragment (it
needs a GPU, a real dataset, a trained run, hours...) and is not run; the reason is visible to the reader.
Every other fence names what it holds (``text`` for output, signatures and sketches, ``bibtex``...), so no
code escapes unlabelled. A ``text`` line that writes a constructor of ``recognizability.nn`` matches its
signature.

Each page runs in a fresh working folder holding links to the repository's ``examples/`` and ``benchmarks/``
(as in a clone), with ``$RECOGNIZABILITY_CACHE`` in a folder shared by the pages of this run (synthetic trees
are generated once) and this interpreter's ``bin/`` first on ``PATH`` (``python`` and the console commands are
this installation's). A page is picked up as soon as it exists.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from recognizability._validation import set_value_checks

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Languages whose blocks run.
CODE = ("python", "bash", "sh")
#: Languages of blocks that are not code.
NOT_CODE = ("text", "bibtex", "json", "csv")
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
FRAGMENT = re.compile(r"\A# fragment: (?P<why>\S.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Path
    line: int
    language: str
    code: str

    @property
    def fragment(self) -> str | None:
        """Why the block is a fragment (its ``# fragment:`` first line), or None for a block that runs."""
        found = FRAGMENT.match(self.code)
        return found.group("why") if found else None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    out = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        out.append(Block(page, line, match.group("info").strip().split(" ")[0], match.group("body")))
    return out


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthetic-data cache for all the pages of this run."""
    return tmp_path_factory.mktemp("docs-cache")


@pytest.fixture
def page_folder(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working folder with ``examples/`` and ``benchmarks/`` linked in, the shared cache, this
    interpreter first on PATH; the working folder and the value checks are restored afterwards."""
    for name in ("examples", "benchmarks"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(shared_cache))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    threads = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(threads)
    set_value_checks(True)


def _run_shell(block: Block, folder: Path) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{block.name}: exit status {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n"
            f"--- stderr\n{result.stderr[-4000:]}"
        )
    return result.stdout


def run_page(page: Path, folder: Path) -> tuple[dict[str, Any], list[str]]:
    """Run the page's code blocks in order; returns its python namespace and each shell block's output."""
    namespace: dict[str, Any] = {"__name__": f"docs:{page.name}"}
    printed: list[str] = []
    for block in blocks(page):
        if block.language not in CODE or block.fragment is not None:
            continue
        if block.language == "python":
            exec(compile(block.code, block.name, "exec"), namespace)
        else:
            printed.append(_run_shell(block, folder))
    return namespace, printed


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_fence_says_what_it_holds(page: Path) -> None:
    unlabelled = [b.name for b in blocks(page) if b.language not in (*CODE, *NOT_CODE)]
    assert not unlabelled, f"fences without a language of {CODE + NOT_CODE}: {unlabelled}"
    for block in blocks(page):
        if block.language in CODE and block.code.lstrip().startswith("# fragment") and block.fragment is None:
            raise AssertionError(f"{block.name}: a fragment marker is '# fragment: <why>' on the first line")


def _signature(cls: type) -> str:
    """``Name(a, b, c=1.0)``: how the pages write a constructor."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    written = [p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in parameters]
    return f"{cls.__name__}({', '.join(written)})"


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_written_constructors_match_the_classes(page: Path) -> None:
    import recognizability.nn as nn

    for block in blocks(page):
        if block.language != "text":
            continue
        for line in block.code.splitlines():
            found = re.fullmatch(r"(\w+)\((.*)\)", line.strip())
            if found and found.group(1) in nn.__all__ and "=" in found.group(2):
                assert line.strip() == _signature(getattr(nn, found.group(1))), block.name


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_files_the_page_names_exist(page: Path) -> None:
    named = re.findall(
        r"\b((?:tests|benchmarks|examples|recognizability)/[\w/.-]+\.(?:py|json|md))", page.read_text()
    )
    missing = sorted({name for name in named if not (ROOT / name).exists()})
    assert not missing, missing


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_figures_shown_exist_are_small_and_name_their_command(page: Path) -> None:
    text = page.read_text()
    for found in re.finditer(r"!\[[^\]]*\]\(([^)]+)\)", text):
        figure = page.parent / found.group(1)
        assert figure.is_file() and figure.stat().st_size < 300_000, found.group(1)
        before = text[max(0, found.start() - 1500) : found.start()]
        assert re.search(r"`(python|recognizability)[ -]", before), f"{found.group(1)}: no command before it"


def test_training_page_lists_every_option_of_the_scripts() -> None:
    import argparse

    from recognizability.training.cli import build_parser

    text = (ROOT / "docs" / "training.md").read_text()
    options = text[text.index("## Options") : text.index("## From release 0.1.0")]
    flags = [
        flag
        for action in build_parser("tinyface")._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]
    missing = [flag for flag in flags if not re.search(rf"{re.escape(flag)}(?![\w-])", options)]
    assert not missing, missing


def _readme(namespace: dict[str, Any], printed: list[str]) -> None:
    """The training step of the README trains every piece it builds."""
    assert torch.isfinite(namespace["losses"].total)
    for name in ("backbone", "head", "criterion"):
        grads = [p.grad for p in namespace[name].parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), name


def _checkpoints(namespace: dict[str, Any], printed: list[str]) -> None:
    """Both public formats loaded, with the 7 x 7 feature map; then the shipped weights."""
    assert namespace["out"].feature_map.shape == (2, 512, 7, 7) and namespace["out"].embedding.shape == (
        2,
        512,
    )
    assert namespace["embedding"].shape == (2, 512)
    backbone = namespace["backbone"]
    assert backbone.embedding_dim == 128 and backbone.input_size == (32, 32)


def _integration(namespace: dict[str, Any], printed: list[str]) -> None:
    """The integrations train the method's modules at their own learning rates, not at the loop's."""
    rates = {group["name"]: group["lr"] for group in namespace["optimizer"].param_groups}
    assert rates["regression"] < rates["recognition"] and rates["backbone"] < rates["recognition"], rates
    regression = {id(p) for p in namespace["criterion"].regression.parameters()}
    for group in namespace["method_optimizer"].param_groups:
        if {id(p) for p in group["params"]} == regression:
            assert group["lr"] == 1e-4


def _training(namespace: dict[str, Any], printed: list[str]) -> None:
    """The page's small run printed its comparison and said where it wrote its outputs."""
    text = "\n".join(printed)
    assert "outputs in runs/smoke/" in text and "comparison.png" in text


#: Page -> what its namespace and output must show after its blocks ran, beyond running without an error.
CHECKS: dict[str, Callable[[dict[str, Any], list[str]], None]] = {
    "README.md": _readme,
    "checkpoints.md": _checkpoints,
    "integration.md": _integration,
    "training.md": _training,
}


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_code_block_of_the_page_runs_in_order(page: Path, page_folder: Path) -> None:
    for module in ("PIL", "matplotlib"):
        pytest.importorskip(module)
    namespace, printed = run_page(page, page_folder)
    check = CHECKS.get(page.name)
    if check is not None:
        check(namespace, printed)
