"""Every code block of docs/integration.md runs: per section, the stand-ins (inside ``<details>``) first, then
the examples, all in one namespace, in page order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _sections() -> list[tuple[str, list[str]]]:
    """``(heading, blocks)`` per ``## `` section, with the blocks inside ``<details>`` moved to the front."""
    text = PAGE.read_text(encoding="utf-8")
    sections = []
    for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading = part.splitlines()[0]
        stand_ins, examples = [], []
        for details, outside in re.findall(r"(<details>.*?</details>)|([^<]+|<)", part, flags=re.DOTALL):
            (stand_ins if details else examples).extend(BLOCK.findall(details or outside))
        sections.append((heading, stand_ins + examples))
    return sections


def test_page_has_the_three_integrations() -> None:
    headings = [heading for heading, _ in _sections()]
    assert headings[0] == "Shared setup"
    assert any("CombinedMarginLoss" in h and "PartialFC_V2" in h for h in headings)
    assert any(h.startswith("AdaFace") for h in headings)
    assert any("ArcFaceLoss" in h for h in headings)
    assert all(blocks for _, blocks in _sections())


@pytest.mark.filterwarnings("error")
def test_every_code_block_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "integration_page"}
    count = 0
    for heading, blocks in _sections():
        for block in blocks:
            code = compile(block, f"{PAGE.name} [{heading}]", "exec")
            exec(code, namespace)  # the page's own examples
            count += 1
    assert count == len(BLOCK.findall(PAGE.read_text(encoding="utf-8")))
    printed = capsys.readouterr().out
    assert "L_cls" in printed and "index of the batch" in printed
