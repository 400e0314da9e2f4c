"""The method's pieces: the modules of the paper's Fig. 2 built from the configuration, and the small steps
the training loop calls.

This sub-package owns the builders (:func:`build_backbone`, :func:`build_head`, :func:`build_criterion`),
the container whose state dict is a checkpoint (:class:`MethodModules`), Table 5's per-module Adam groups
(:func:`parameter_groups`), the checks that run before a step changes any state (guards), and the steps
themselves that are not the loop: bf16 autocast, embedding a whole image set, validation. The loop is written
out in ``examples/train_*.py``. Reads :mod:`~recognizability.training.config` and
:mod:`~recognizability.training.data`.
"""

from __future__ import annotations

from .guards import (
    check_batch_size_for_training,
    check_frozen_batchnorm_has_weights,
    check_training_batch,
    evaluation_mode,
)
from .modules import (
    MethodModules,
    build_backbone,
    build_criterion,
    build_head,
    build_modules,
    embed_and_score,
    parameter_groups,
    replicated_modules,
    set_train_mode,
)
from .steps import autocast, embed_images, nearest_class, validate

__all__ = [
    "MethodModules",
    "autocast",
    "build_backbone",
    "build_criterion",
    "build_head",
    "build_modules",
    "check_batch_size_for_training",
    "check_frozen_batchnorm_has_weights",
    "check_training_batch",
    "embed_and_score",
    "embed_images",
    "evaluation_mode",
    "nearest_class",
    "parameter_groups",
    "replicated_modules",
    "set_train_mode",
    "validate",
]
