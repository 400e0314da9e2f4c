"""The value-check switch and the generic validation helpers of recognizability._validation."""

from __future__ import annotations

import pytest
import torch

from recognizability._validation import (
    check_finite,
    check_labels,
    check_shape,
    set_value_checks,
    value_checks,
    value_checks_enabled,
)
from recognizability.functional import arcface_logits, project_away


def test_switch_and_context_manager_restore() -> None:
    assert value_checks_enabled()
    with value_checks(False):
        assert not value_checks_enabled()
        with value_checks(True):
            assert value_checks_enabled()
        assert not value_checks_enabled()
    assert value_checks_enabled()
    with pytest.raises(RuntimeError, match="boom"), value_checks(False):
        raise RuntimeError("boom")
    assert value_checks_enabled()
    set_value_checks(False)
    assert not value_checks_enabled()
    with pytest.raises(TypeError, match=r"enabled to be a bool, got int"):
        set_value_checks(1)  # type: ignore[arg-type]


def test_value_checks_off_skips_value_checks_but_keeps_structural_ones() -> None:
    cosine = torch.rand(3, 4)
    bad_labels = torch.tensor([0, 1, 4])
    with value_checks(False):
        # Structural checks still run.
        with pytest.raises(ValueError, match=r"labels of shape"):
            arcface_logits(cosine, torch.zeros(3, 1, dtype=torch.long))
        # The finiteness check is skipped: the non-finite centre propagates instead of raising.
        out = project_away(torch.randn(2, 3), torch.tensor([float("nan"), 0.0, 1.0]))
        assert bool(torch.isnan(out).all())
        check_finite(torch.tensor([float("inf")]), "x")  # no error while off
        labels = check_labels(bad_labels, 4, 3, cosine, "cosine")  # range not read while off
        assert labels.dtype == torch.int64
    with pytest.raises(ValueError, match=r"expected labels with values in \[0, 4\), got values in \[0, 4\]"):
        check_labels(bad_labels, 4, 3, cosine, "cosine")
    # Checks-off results equal checks-on results for valid input.
    labels_ok = torch.tensor([0, 3, 2])
    on = arcface_logits(cosine, labels_ok)
    with value_checks(False):
        off = arcface_logits(cosine, labels_ok)
    torch.testing.assert_close(on, off, rtol=0, atol=0)


def test_check_shape_messages() -> None:
    with pytest.raises(ValueError, match=r"^expected x of shape \(B, 3\), got shape \(2, 4\)$"):
        check_shape(torch.zeros(2, 4), "x", ("B", 3))
    with pytest.raises(ValueError, match=r"^expected x of shape \(B,\), got shape \(\)$"):
        check_shape(torch.tensor(1.0), "x", ("B",))
    with pytest.raises(TypeError, match=r"x to be a torch.Tensor, got ndarray"):
        import numpy as np

        check_shape(np.zeros(2), "x", ("B",))
    assert check_shape(torch.zeros(2, 3), "x", ("B", 3)).shape == (2, 3)


def test_bool_labels_rejected() -> None:
    with pytest.raises(TypeError, match=r"integer dtype.*got torch.bool"):
        check_labels(torch.tensor([True, False]), 2, 2, torch.zeros(2, 2), "cosine")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_out_of_range_label_raises_value_error_not_device_assert() -> None:
    cosine = torch.rand(4, 3, device="cuda")
    with pytest.raises(ValueError, match=r"values in \[0, 3\)"):
        arcface_logits(cosine, torch.tensor([0, 1, 2, 3], device="cuda"))
    # The device is still usable (no device-side assert was triggered).
    assert float(
        arcface_logits(cosine, torch.tensor([0, 1, 2, 2], device="cuda")).sum().cpu()
    ) == pytest.approx(float(arcface_logits(cosine.cpu(), torch.tensor([0, 1, 2, 2])).sum()), rel=1e-4)
