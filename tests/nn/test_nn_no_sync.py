"""With value checks off, a full training step of the head performs no host sync.

On CPU a sync cannot be observed directly; instead every Python-level way of reading a tensor value
(``bool``, ``int``, ``float``, ``.item()``, ``.tolist()``) is made to raise during the step. The same step
with value checks on must trip it, which shows the probe works. On CUDA, ``torch.cuda.set_sync_debug_mode``
is used.
"""

from __future__ import annotations

import pytest
import torch

from recognizability._validation import value_checks
from recognizability.nn import ArcFace, RecognizabilityLoss, UICenter
from tests.helpers.host_reads import HostRead

Step = tuple[ArcFace, RecognizabilityLoss, UICenter, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _build(device: str) -> Step:
    torch.manual_seed(0)
    head = ArcFace(8, 50).to(device)
    crit = RecognizabilityLoss(16, (3, 3), 8).to(device)
    ui = UICenter(8).to(device)
    fm = torch.randn(4, 16, 3, 3, device=device, requires_grad=True)
    e = torch.randn(4, 8, device=device, requires_grad=True)
    y = torch.tensor([0, 3, 49, 7], device=device)
    ui_batch = torch.randn(10, 8, device=device)
    return head, crit, ui, fm, e, y, ui_batch


def _run(step: Step) -> torch.Tensor:
    head, crit, ui, fm, e, y, ui_batch = step
    ui.update(ui_batch)
    out = crit(fm, e, y, head(e, y), ui)
    out.total.backward()
    return out.total.detach()


def _step(device: str) -> torch.Tensor:
    return _run(_build(device))


def test_step_without_value_checks_reads_no_tensor_value(forbid_host_reads: None) -> None:
    with value_checks(False):
        total = _step("cpu")
    with pytest.raises(HostRead):
        _step("cpu")  # value checks on: the probe must catch their reads
    del total


def test_step_values_equal_with_and_without_checks() -> None:
    with value_checks(False):
        unchecked = _step("cpu")
    torch.testing.assert_close(unchecked, _step("cpu"), rtol=0, atol=0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_step_without_value_checks_does_not_sync() -> None:
    _step("cuda")  # warm-up (allocator, kernels)
    step = _build("cuda")
    torch.cuda.synchronize()
    with value_checks(False):
        torch.cuda.set_sync_debug_mode("error")
        try:
            _run(step)
        finally:
            torch.cuda.set_sync_debug_mode("default")
