"""CR-FIQA's quality branch: the certainty ratio from its definition, the loss, and that it trains alone."""

from __future__ import annotations

import pytest
import torch

from recognizability.nn.certainty_ratio import CertaintyRatioRegression, certainty_ratio


def test_certainty_ratio_equals_the_definition() -> None:
    ccs = torch.tensor([0.9, 0.2, -0.5], dtype=torch.float64)
    nnccs = torch.tensor([0.1, 0.6, -1.0], dtype=torch.float64)
    expected = [0.9 / 1.1, 0.2 / 1.6, -0.5 / 1e-9]
    assert certainty_ratio(ccs, nnccs).tolist() == pytest.approx(expected, rel=1e-6)
    assert certainty_ratio(ccs.half(), nnccs.half()).dtype == torch.float32


def test_loss_is_smooth_l1_to_the_detached_ratio_and_leaves_the_embedding_alone() -> None:
    torch.manual_seed(0)
    head = CertaintyRatioRegression(8)
    v = torch.randn(5, 8, requires_grad=True)
    ccs, nnccs = torch.rand(5, requires_grad=True), torch.rand(5)
    loss = head.loss(v, ccs, nnccs)
    prediction = head.linear(v.detach()).squeeze(1)
    manual = torch.nn.functional.smooth_l1_loss(prediction, ccs.detach() / (nnccs + 1 + 1e-9), beta=0.5)
    assert float(loss.detach()) == pytest.approx(float(manual.detach()), rel=1e-6)
    loss.backward()
    assert v.grad is None and ccs.grad is None  # detached input and target
    assert head.linear.weight.grad is not None and bool(head.linear.weight.grad.abs().sum() > 0)


def test_joint_training_reaches_the_embedding_when_asked() -> None:
    head = CertaintyRatioRegression(4, detach_input=False)
    v = torch.randn(3, 4, requires_grad=True)
    head.loss(v, torch.rand(3), torch.rand(3)).backward()
    assert v.grad is not None


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: CertaintyRatioRegression(0), ValueError, "embedding_dim"),
        (lambda: CertaintyRatioRegression(4)(torch.randn(2, 5)), ValueError, r"embeddings of shape \(B, 4\)"),
        (lambda: certainty_ratio(torch.rand(3), torch.rand(2)), ValueError, "nearest_negative_cosine"),
        (lambda: certainty_ratio(torch.rand(3), torch.rand(3), eps=0.0), ValueError, "eps"),
    ],
)
def test_bad_input_is_refused(call: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        call()  # type: ignore[operator]
