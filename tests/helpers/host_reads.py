"""A probe for host syncs on the CPU: every Python-level read of a tensor value raises :class:`HostRead`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


class HostRead(Exception):
    """A tensor value was read on the host (``bool``, ``int``, ``float``, ``.item()``, ``.tolist()``)."""


@pytest.fixture
def forbid_host_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*_: object, **__: object) -> None:
        raise HostRead("a tensor value was read on the host")

    for name in ("__bool__", "__int__", "__float__", "__index__", "item", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    yield
