"""The GPU path of the example's loop (CUDA, bf16 autocast, channels_last, torch.compile); skipped without
CUDA.

Never run in this project's CI (no GPU there): a ready check for whoever trains on a GPU."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from recognizability.training import RunOptions, Session
from tests.helpers.tiny import load_example, tiny_config, tiny_data

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("compile_model", [False, True])
def test_bf16_training_on_cuda_is_finite_and_stays_on_the_device(compile_model: bool, tmp_path: Path) -> None:
    train = load_example("train_tinyface").train
    options = RunOptions(out=tmp_path, device="cuda", amp=True, compile=compile_model, progress=False)
    result = train("run", tiny_config(epochs=1, max_steps_per_epoch=2), tiny_data(tmp_path), Session(options))
    row = result.history[-1]
    assert all(
        math.isfinite(row[k]) for k in ("total", "classification", "regression", "diversion", "attention")
    )
    assert all(p.device.type == "cuda" for p in result.model.parameters())
    # index and loss arithmetic stays float32 under autocast (the parameters are never cast)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
