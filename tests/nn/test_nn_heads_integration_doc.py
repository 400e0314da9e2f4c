"""docs/integration.md covers the three training codes, each with its stand-ins declared before the blocks
that use them (its blocks run with every page, in page order: tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


def _sections() -> list[tuple[str, str]]:
    text = PAGE.read_text(encoding="utf-8")
    return [(part.splitlines()[0], part) for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]]


def test_page_has_the_three_integrations_and_the_learning_rates() -> None:
    headings = [heading for heading, _ in _sections()]
    assert headings[0] == "Shared setup" and headings[1].startswith("Learning rates")
    assert any("CombinedMarginLoss" in h and "PartialFC_V2" in h for h in headings)
    assert any(h.startswith("AdaFace") for h in headings)
    assert any("ArcFaceLoss" in h for h in headings)


def test_stand_ins_come_before_the_blocks_that_use_them() -> None:
    text = "\n".join(re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL))
    for name in ("CombinedMarginLoss", "PartialFC_V2", "AdaFaceHead", "ArcFaceLoss"):
        first_use = re.search(rf"(?<!class ){name}\(", text)
        assert first_use is not None and text.index(f"class {name}(") < first_use.start(), name
