"""Shared pieces of the bad-input tables of functional, nn, metrics and backbones: small inputs, the row
type, the check that a table covers every public name of its package, and state snapshots (a refused call
changes nothing)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import pytest
import torch

import recognizability.backbones as backbones
import recognizability.nn as rnn

__all__ = [
    "NAN",
    "Row",
    "assert_unchanged",
    "class_labels",
    "dropout_model",
    "public_callables",
    "small_state_with_non_finite_values",
    "snapshot",
    "table_tests",
    "ui_center",
    "uncovered",
    "under_cpu_autocast",
    "x",
]

NAN = math.nan

#: (the public name the row covers, the call, the exception type, a regex of the message)
Row = tuple[str, Callable[[], Any], type[Exception], str]

#: Public names that take no input worth refusing, or are types the library builds (results, errors).
NOT_CALLED_WITH_USER_INPUT = {
    "available_backbones",  # takes no argument
    "available_pretrained",  # takes no argument
    "available_heads",  # its one argument is checked by build_head's rows
    "BackboneOutput",
    "CheckpointError",
    "LoadReport",
    "RecognizabilityLossOutput",
    "MarginHeadOutput",  # the heads' output type
    "HeadOutputWithCosine",  # typing protocols
    "HeadOutputWithIndexParts",
}


def x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


def class_labels() -> torch.Tensor:
    return torch.tensor([0, 1, 2, 0])


def ui_center() -> rnn.UICenter:
    center = rnn.UICenter(3)
    center.fit(x(6, 3) + 1)
    return center


def under_cpu_autocast(call: Callable[[], Any]) -> Any:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return call()


def small_state_with_non_finite_values() -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in backbones.small_vlr_net(width=8).state_dict().items()}
    state["conv1.weight"][0, 0, 0, 0] = NAN
    state["bn1.running_var"][:2] = math.inf
    return state


def dropout_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(3, 2))


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_unchanged(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = module.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), key


def public_callables(packages: Iterable[ModuleType], prefix: str) -> set[str]:
    """The public callables of ``packages`` defined under ``prefix`` (metric reports and the names of
    :data:`NOT_CALLED_WITH_USER_INPUT` left out)."""
    names = set()
    for package in packages:
        for name in getattr(package, "__all__", []):
            obj = getattr(package, name)
            module = getattr(obj, "__module__", "") or ""
            is_result = inspect.isclass(obj) and hasattr(obj, "to_dict")  # metric reports
            if callable(obj) and module.startswith(prefix) and not is_result:
                names.add(name)
    return names - NOT_CALLED_WITH_USER_INPUT


def uncovered(rows: Iterable[Row], packages: Iterable[ModuleType], prefix: str) -> list[str]:
    """The public callables of ``packages`` that no row covers."""
    covered = {target.split(".")[0] for target, *_ in rows}
    return sorted(public_callables(packages, prefix) - covered)


def table_tests(
    rows: list[Row], packages: list[ModuleType], prefix: str
) -> tuple[Callable[..., None], Callable[[], None]]:
    """The two tests of a package's bad-input table, for its test module to bind to ``test_*`` names:
    every row raises its error with a message matching its pattern, and every public callable of
    ``packages`` (defined under ``prefix``) has a row."""

    @pytest.mark.parametrize(
        ("target", "call", "error", "pattern"), rows, ids=[f"{r[0]}-{i}" for i, r in enumerate(rows)]
    )
    def test_bad_input_raises_a_clear_error(
        target: str, call: Callable[[], Any], error: type[Exception], pattern: str
    ) -> None:
        with pytest.raises(error, match=pattern):
            call()

    def test_table_covers_every_public_function_and_module() -> None:
        missing = uncovered(rows, packages, prefix)
        assert not missing, f"public names without a bad-input row: {missing}"

    return test_bad_input_raises_a_clear_error, test_table_covers_every_public_function_and_module
