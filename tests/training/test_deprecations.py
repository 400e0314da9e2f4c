"""Old names of ``recognizability.training``: renamed and moved ones still work and warn, naming their new
home; removed ones say what replaced them, on attribute access and on ``from ... import`` alike."""

from __future__ import annotations

import importlib

import pytest

import recognizability.training as training
from recognizability.training import TrainingConfig, demo_config, paper_config


@pytest.mark.parametrize(
    ("name", "new"),
    [
        ("TrainingSettings", TrainingConfig),
        ("paper_settings", paper_config),
        ("cpu_demo_settings", demo_config),
    ],
)
def test_renamed_names_warn_and_work(name: str, new: object) -> None:
    with pytest.warns(DeprecationWarning, match=f"training.{name} is deprecated"):
        assert getattr(training, name) is new


def test_names_that_moved_into_a_sub_package_warn_and_name_it() -> None:
    from recognizability.training.data import load_image_set
    from recognizability.training.run import save_checkpoint

    with pytest.warns(DeprecationWarning, match=r"use recognizability\.training\.data\.load_image_set"):
        assert training.load_image_set is load_image_set
    with pytest.warns(DeprecationWarning, match=r"use recognizability\.training\.run\.save_checkpoint"):
        from recognizability.training import save_checkpoint as old

    assert old is save_checkpoint


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("fit", "examples/train_"),
        ("refresh_ui_center", r"ui_center\.fit"),
        ("predict_quality", "recognizability quality DIR --checkpoint"),
        ("load_trained_model", r"recognizability\.deploy\.load_trained_model"),
        ("build_model", r"build_modules\(config, num_classes\)"),
    ],
)
def test_removed_names_say_what_replaced_them(name: str, words: str) -> None:
    with pytest.raises(AttributeError, match=f"training.{name} was removed: .*{words}"):
        getattr(training, name)
    with pytest.raises(ImportError, match=f"training.{name} was removed: .*{words}"):
        exec(f"from recognizability.training import {name}", {})


def test_unknown_names_and_hasattr_behave_as_usual() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = training.not_a_name
    with pytest.raises(ImportError, match="cannot import name 'not_a_name'"):
        exec("from recognizability.training import not_a_name", {})
    assert not hasattr(training, "fit")  # a removed name is no attribute


@pytest.mark.parametrize("module", ["loop", "recipe", "settings", "predict", "model"])
def test_the_modules_of_release_0_1_0_are_gone(module: str) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"recognizability.training.{module}")
