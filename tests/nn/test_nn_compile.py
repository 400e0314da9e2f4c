"""torch.compile(fullgraph=True) captures every module in one graph and matches eager.

``fullgraph=True`` makes any graph break an error. ArcFace and the combined criterion (which runs every other
module inside its graph) use the ``aot_eager`` backend: full-graph capture plus the traced forward and
backward, without inductor's C++ code generation (tens of seconds on a small CPU). The small modules
are also captured on their own with the ``eager`` backend (graph capture only), to keep the suite fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from recognizability.nn import (
    ArcFace,
    IndexDiversionLoss,
    PerceptibilityAttention,
    PerceptibilityRegression,
    RecognizabilityIndex,
    RecognizabilityLoss,
    UICenter,
)

compile_available = hasattr(torch, "compile") and torch._dynamo.is_dynamo_supported()
pytestmark = [
    pytest.mark.skipif(not compile_available, reason="torch.compile is not supported on this platform"),
    pytest.mark.filterwarnings("ignore:.*torch.jit.script_method.*:DeprecationWarning"),
]
FULL_BACKEND = {"arcface", "criterion"}


def _flatten(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [getattr(out, name) for name in out.__dataclass_fields__]


def _cases() -> dict[str, tuple[Callable[[], torch.nn.Module], Callable[[], tuple[Any, ...]]]]:
    def ui() -> UICenter:
        center = UICenter(8)
        center.fit(torch.randn(20, 8))
        return center

    def criterion_inputs() -> tuple[Any, ...]:
        e = torch.randn(4, 8, requires_grad=True)
        y = torch.tensor([0, 5, 9, 2])
        return torch.randn(4, 16, 3, 3, requires_grad=True), e, y, ArcFace(8, 10)(e, y), ui()

    labels = torch.tensor([0, 5, 9, 2])
    return {
        "arcface": (lambda: ArcFace(8, 10), lambda: (torch.randn(4, 8, requires_grad=True), labels)),
        "index": (RecognizabilityIndex, lambda: (torch.rand(4, 10), labels, torch.rand(4))),
        "diversion": (IndexDiversionLoss, lambda: (torch.randn(4, requires_grad=True),)),
        "ui_center": (ui, lambda: (torch.randn(4, 8, requires_grad=True),)),
        "attention": (lambda: PerceptibilityAttention(16, 8, (3, 3)), lambda: (torch.randn(4, 16, 3, 3),)),
        "regression": (lambda: PerceptibilityRegression(144).eval(), lambda: (torch.randn(4, 16, 3, 3),)),
        "criterion": (lambda: RecognizabilityLoss(16, (3, 3), 8).eval(), criterion_inputs),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_cases()))
def test_compiled_equals_eager(name: str) -> None:
    torch._dynamo.reset()
    make_module, make_inputs = _cases()[name]
    torch.manual_seed(0)
    module = make_module()
    inputs = make_inputs()
    backend = "aot_eager" if name in FULL_BACKEND else "eager"
    compiled = torch.compile(module, fullgraph=True, backend=backend)
    eager_out, compiled_out = _flatten(module(*inputs)), _flatten(compiled(*inputs))
    for a, b in zip(eager_out, compiled_out, strict=True):
        torch.testing.assert_close(b, a)
    leaves = [p for p in module.parameters()] + [
        x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad
    ]
    if eager_out[0].grad_fn is None:
        return
    # retain_graph: the criterion's inputs share one ArcFace graph between the two calls.
    want = torch.autograd.grad(eager_out[0].sum(), leaves, retain_graph=True, allow_unused=True)
    got = torch.autograd.grad(compiled_out[0].sum(), leaves, retain_graph=True, allow_unused=True)
    for g, w in zip(got, want, strict=True):
        assert (g is None) == (w is None)
        if g is not None:
            torch.testing.assert_close(g, w)


def test_regression_training_mode_compiles() -> None:
    # Dropout draws differ between eager and compiled runs, so compare statistics rather than values.
    torch._dynamo.reset()
    module = PerceptibilityRegression(144, dropout=0.0)
    fm = torch.randn(4, 16, 3, 3, requires_grad=True)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(fm), module(fm))  # dropout 0: deterministic in training mode
    module.dropout = 0.9
    out = compiled(fm)
    assert out.shape == (4,) and bool(torch.isfinite(out).all())
    (grad,) = torch.autograd.grad(out.sum(), fm)
    kept_share = float((grad != 0).float().mean())
    assert 0.0 < kept_share < 0.5  # about 10% of the inputs get a gradient
