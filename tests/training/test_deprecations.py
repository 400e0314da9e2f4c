"""Names of release 0.1.0: renamed ones still work and warn; removed ones say what replaced them."""

from __future__ import annotations

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


def test_moved_command_functions_warn() -> None:
    from recognizability.training.predict import predict_quality

    with pytest.warns(DeprecationWarning, match="training.predict.predict_quality"):
        assert training.predict_quality is predict_quality


def test_old_modules_warn_or_explain() -> None:
    from recognizability.training import images, loop, recipe, settings

    with pytest.warns(DeprecationWarning, match="training.images.ImageSet"):
        assert loop.ImageSet is images.ImageSet
    with pytest.warns(DeprecationWarning, match="paper_config"):
        assert settings.paper_settings is paper_config
    with pytest.warns(DeprecationWarning, match="training.config.TrainingConfig"):
        assert settings.TrainingSettings is TrainingConfig
    with pytest.raises(AttributeError, match="examples/train_"):
        _ = recipe.fit
    with pytest.raises(AttributeError, match="examples/train_"):
        _ = training.fit
    with pytest.raises(AttributeError, match="no attribute"):
        _ = training.not_a_name
