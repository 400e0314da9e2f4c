"""Typed, nested configuration of a fine-tuning run, from which the modules are built field for field.

One frozen :class:`TrainingConfig` describes a run completely; its sections are the pieces of the paper's
recipe::

    run     which benchmark, paper or CPU-demo mode, seed, step cap, a one-line description
    model   backbone (Fig. 2's feature extractor), input size, D, dropout, frozen BatchNorm, --pretrained
    head    margin head of the recognition module (ArcFace: s, m)
    loss    the keyword arguments of RecognizabilityLoss, one field each (Eq. 4-10)
    ui      the UI statistics of Eq. 6 (estimated or the paper's (0, 1))
    optim   Adam's per-module learning rates, weight decay, epochs and the step decay (Table 5)
    data    batch size, augmentation, the validation subset (supplement Sec. B)

:class:`LossConfig` holds exactly the keyword arguments of
:class:`~recognizability.nn.RecognizabilityLoss`, so ``RecognizabilityLoss(C, (H, W), D,
**config.loss.kwargs())`` passes every one of them and none can be dropped on the way. Fields that carry
``metadata["option"]`` are command-line options (:mod:`recognizability.training.cli` derives the parser from
them). ``to_dict``/``from_dict`` round-trip through JSON (checkpoints and reports);
``from_dict`` also reads the flat settings dict that release 0.1.0 wrote into its checkpoints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, get_args, get_type_hints

from recognizability._validation import (
    check_bool,
    check_choice,
    check_float_in_range,
    check_positive_float,
    check_positive_int,
)
from recognizability.backbones import canonical_backbone_name
from recognizability.functional import DEFAULT_TAU
from recognizability.nn import PARALLEL_MODES, available_heads

__all__ = [
    "HEAD_PARALLEL",
    "LOSS_TERMS",
    "RUN_MODES",
    "TERMS",
    "ConfigOption",
    "DataConfig",
    "HeadConfig",
    "HeadOptions",
    "LearningRates",
    "LossConfig",
    "LossTerm",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "RunMode",
    "TrainingConfig",
    "UIConfig",
    "loss_term",
    "model_label",
]


@dataclass(frozen=True)
class LossTerm:
    """One term of Eq. 10 that a run can switch off (a row of the paper's Table 4), in every vocabulary the
    package uses for it.

    Attributes:
        name: its name on the command line (``--losses``), in run names and in ablation rows ("l1").
        output: the field of :class:`~recognizability.nn.RecognizabilityLossOutput` that holds it
            ("regression"), which is also its name in logs, histories and reports.
        switch: the :class:`LossConfig` field (and ``RecognizabilityLoss`` argument) that turns it on.
        weight: the :class:`LossConfig` field of its weight in Eq. 10.
        symbol: the paper's symbol ("L_L1").
        equation: where the paper defines it.
    """

    name: str
    output: str
    switch: str
    weight: str
    symbol: str
    equation: str


#: The switchable terms of Eq. 10, in the paper's order of Table 4's rows: L_ID, L_MSE, L_L1.
TERMS: tuple[LossTerm, ...] = (
    LossTerm("id", "diversion", "use_diversion", "diversion_weight", "L_ID", "Eq. 5-7"),
    LossTerm("mse", "attention", "use_attention", "attention_weight", "L_MSE", "Eq. 8-9"),
    LossTerm("l1", "regression", "use_regression", "regression_weight", "L_L1", "Eq. 4"),
)
#: The names of :data:`TERMS` (``--losses id,mse,l1``).
LOSS_TERMS: tuple[str, ...] = tuple(term.name for term in TERMS)


def model_label(backbone: str, head: str, losses: Iterable[str]) -> str:
    """``small_vlr_net, arcface + L_ID + L_MSE + L_L1``: the backbone, the margin head and the loss terms in
    the paper's order (how figure titles name a trained model)."""
    chosen = set(losses)
    return f"{backbone}, {' + '.join([head, *(term.symbol for term in TERMS if term.name in chosen)])}"


def loss_term(name: str) -> LossTerm:
    """The :class:`LossTerm` called ``name`` (its command-line name, e.g. "l1")."""
    for term in TERMS:
        if term.name == name:
            return term
    raise ValueError(f"expected a loss term among {list(LOSS_TERMS)}, got {name!r}")


#: The largest seed of a run: a 63-bit int (torch's generators take 64 bits, epoch seeds are mixed into 63).
MAX_SEED = 2**63 - 1

RunMode = Literal["paper", "demo"]
#: "paper": Table 5 at 112 x 112; "demo": the declared CPU demo (not the paper's), which also trains the
#: ArcFace-only baseline it is compared with.
RUN_MODES: tuple[str, ...] = get_args(RunMode)

#: How the head holds its prototypes (``--head-parallel``): dense, chunked on one device, class-sharded
#: (:data:`recognizability.nn.PARALLEL_MODES`).
HEAD_PARALLEL: tuple[str, ...] = PARALLEL_MODES


def _option(
    flag: str, help: str, choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
) -> Any:
    """Field metadata that makes a field a command-line option ``flag`` with ``help`` (and ``choices``: a
    tuple, or a function giving them when the parser is built, e.g. the heads registered by then)."""
    return {"option": flag, "help": help, "choices": choices}


@dataclass(frozen=True)
class LearningRates:
    """Adam learning rate of each module of the paper's Fig. 2 (Table 5).

    Attributes:
        backbone: the feature extractor (trunk and embedding head).
        recognition: the recognition module (RM): the margin head's class prototypes ``W`` (C, D).
        attention: the perceptibility attention module (PAM, Eq. 9).
        regression: the perceptibility regression module (PRM, Eq. 4-7).
    """

    backbone: float
    recognition: float
    attention: float
    regression: float

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_positive_float(getattr(self, f.name), f"learning rate {f.name}", allow_zero=True)


@dataclass(frozen=True)
class RunConfig:
    """What the run is: its benchmark, its mode and its seed.

    Attributes:
        dataset: a registered benchmark (:func:`~recognizability.training.available_benchmarks`).
        mode: "paper" (Table 5) or "demo" (the declared CPU demo, which also trains ArcFace alone).
        seed: data order, augmentation and dropout of epoch e are a function of (seed, e).
        max_steps_per_epoch: cap on optimiser steps per epoch (None: the whole epoch); smoke runs and tests.
        description: one line saying what configuration this is (printed and written into the report).
    """

    dataset: str
    mode: RunMode
    seed: int = field(default=0, metadata=_option("--seed", "seed of the run"))
    max_steps_per_epoch: int | None = field(
        default=None, metadata=_option("--max-steps", "cap optimiser steps per epoch (smoke runs)")
    )
    description: str = ""

    def __post_init__(self) -> None:
        check_choice(self.mode, "mode", RUN_MODES)
        check_positive_int(self.seed, "seed", minimum=0)
        if self.seed > MAX_SEED:  # torch.manual_seed takes at most 64 bits; epoch seeds are mixed in 63
            raise ValueError(f"expected seed to be an int in [0, 2**63 - 1], got {self.seed}")
        if self.max_steps_per_epoch is not None:
            check_positive_int(self.max_steps_per_epoch, "max_steps_per_epoch")


@dataclass(frozen=True)
class ModelConfig:
    """The backbone of Fig. 2.

    Attributes:
        backbone: a name of :func:`~recognizability.backbones.create_backbone`.
        input_size: side of the square network input; VLR images are bicubic-resized to it (112 in the paper).
        embedding_dim: ``D``.
        backbone_dropout: dropout before the backbone's embedding FC layer.
        freeze_batchnorm: keep the trunk's BatchNorm2d statistics and affine fixed (pretrained backbones).
        pretrained: path of a public checkpoint to load into the backbone (None: random initialisation).
    """

    backbone: str = field(
        metadata=_option("--backbone", "backbone name (default: iresnet50 for paper, small_vlr_net for demo)")
    )
    input_size: int
    embedding_dim: int = 512
    backbone_dropout: float = 0.2
    freeze_batchnorm: bool = field(
        default=True,
        metadata=_option(
            "--freeze-batchnorm",
            "keep the backbone's BatchNorm statistics fixed (needs --pretrained weights)",
        ),
    )
    pretrained: str | None = field(
        default=None, metadata=_option("--pretrained", "checkpoint for the backbone (arcface_torch, AdaFace)")
    )

    def __post_init__(self) -> None:
        canonical_backbone_name(self.backbone, "backbone")
        check_positive_int(self.input_size, "input_size")
        check_positive_int(self.embedding_dim, "embedding_dim")
        check_float_in_range(self.backbone_dropout, "backbone_dropout", 0.0, 1.0, high_closed=False)
        check_bool(self.freeze_batchnorm, "freeze_batchnorm")


class HeadOptions(TypedDict, total=False):
    """The keyword arguments :meth:`HeadConfig.options` gives a margin head's constructor."""

    scale: float
    margin: float


@dataclass(frozen=True)
class HeadConfig:
    """The margin head of the recognition module (Fig. 2: ArcFace in the paper, Table 5: s = 64, m = 0.45).

    ``scale`` and ``margin`` None mean the head's own paper's values (the defaults of its class in
    :mod:`recognizability.nn`: s = 64 for all; m = 0.45 ArcFace (this paper's Table 5), 0.35 CosFace, 0.4
    AdaFace, 0.5 CurricularFace). MagFace has no single margin (its margin grows with the feature norm from
    ``lower_margin`` to ``upper_margin``), so a ``margin`` with it is an error. A head's other parameters
    (AdaFace's ``h``, MagFace's ``lambda_g``, ...) keep their paper's values. Changing ``name`` with
    :meth:`TrainingConfig.replace` resets ``scale`` and ``margin`` to the new head's own unless they are given
    in the same call: a head's s and m belong to it.

    Attributes:
        name: a head of the one head registry (:func:`recognizability.nn.available_heads`; a head registered
            with :func:`recognizability.nn.register_head` is selectable with ``--head`` too).
        scale: ``s`` (None: the head's default).
        margin: ``m`` (None: the head's default); radians for ArcFace and CurricularFace, a cosine offset for
            CosFace, the base margin of AdaFace.
        parallel: how the prototypes ``W`` (C, D) are held (:data:`HEAD_PARALLEL`): "none" (the dense head),
            "chunked" (:class:`~recognizability.nn.ChunkedMarginHead`: one device, never a (B, C) tensor) or
            "sharded" (:class:`~recognizability.nn.ShardedMarginHead`: classes split over the torchrun
            processes); any head with a margin component, the five of the library included (docs/scale.md).
    """

    name: str = field(
        default="arcface",
        metadata=_option(
            "--head", "margin head of the recognition module (default: arcface, the paper's)", available_heads
        ),
    )
    scale: float | None = field(
        default=None, metadata=_option("--scale", "scale s of the margin head (default: the head's paper's)")
    )
    margin: float | None = field(
        default=None,
        metadata=_option("--margin", "margin m of the head (default: the head's paper's; not for magface)"),
    )
    parallel: str = field(
        default="none",
        metadata=_option(
            "--head-parallel",
            "prototypes: dense, chunked (one device) or sharded (torchrun)",
            HEAD_PARALLEL,
        ),
    )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"expected name to be a str, got {type(self.name).__name__}")
        if self.scale is not None:
            check_positive_float(self.scale, "scale")
        if self.margin is not None:
            check_positive_float(self.margin, "margin", allow_zero=True)
            if self.name == "magface":
                raise ValueError(
                    f"expected margin None with the head 'magface' (its margin runs from lower_margin to "
                    f"upper_margin with the feature norm), got margin={self.margin!r}"
                )
        check_choice(self.parallel, "parallel", HEAD_PARALLEL)
        heads = available_heads(self.parallel)
        if self.name not in heads:
            mode = "" if self.parallel == "none" else f" with parallel={self.parallel!r}"
            raise ValueError(f"expected head to be one of {list(heads)}{mode}, got {self.name!r}")

    def options(self) -> HeadOptions:
        """The head's keyword arguments set here (``scale``, ``margin``); the others keep its defaults."""
        options = HeadOptions()
        if self.scale is not None:
            options["scale"] = self.scale
        if self.margin is not None:
            options["margin"] = self.margin
        return options


@dataclass(frozen=True)
class LossConfig:
    """The keyword arguments of :class:`~recognizability.nn.RecognizabilityLoss`, one field each (Eq. 4-10).

    Attributes:
        tau: the ID-loss confidence of Eq. 7 (no value in the paper; docs/ablation.md).
        regression_weight: alpha of Eq. 10 (weight of L_L1).
        diversion_weight: beta of Eq. 10 (weight of L_ID); not the smooth-L1 threshold.
        attention_weight: gamma of Eq. 10 (weight of L_MSE).
        smooth_l1_beta: the threshold of the smooth L1 of Eq. 4 (0.75).
        regression_dropout: dropout of the perceptibility regression module (0.9).
        use_regression, use_diversion, use_attention: switch L_L1, L_ID, L_MSE (Table 4 rows; :data:`TERMS`).
        index_gradient: let L_L1 pull the embeddings and the prototypes towards the predicted index through
            its target ``xi`` (off: ``xi`` is a detached target, the paper's reading).
        detach_regression_input: the regression module reads a detached copy of the feature map, so L_L1 and
            L_ID train the module alone and never reach the backbone (a quality head that costs recognition
            nothing; with L_L1 alone, a placebo row of the ablation). Off: the paper's end-to-end reading.
    """

    tau: float = field(default=DEFAULT_TAU, metadata=_option("--tau", "ID-loss confidence tau (Eq. 7)"))
    regression_weight: float = 5.0
    diversion_weight: float = 2.0
    attention_weight: float = 1.0
    smooth_l1_beta: float = 0.75
    regression_dropout: float = 0.9
    use_regression: bool = True
    use_diversion: bool = True
    use_attention: bool = True
    index_gradient: bool = field(
        default=False,
        metadata=_option("--index-gradient", "L_L1 also pulls the embeddings towards the predicted index"),
    )
    detach_regression_input: bool = field(
        default=False,
        metadata=_option(
            "--detach-regression-input",
            "the regression module reads a detached feature map (L_L1 and L_ID never reach the backbone)",
        ),
    )

    def __post_init__(self) -> None:
        for name in ("tau", "regression_weight", "diversion_weight", "attention_weight", "smooth_l1_beta"):
            check_positive_float(getattr(self, name), name, allow_zero=True)
        check_float_in_range(self.regression_dropout, "regression_dropout", 0.0, 1.0, high_closed=False)
        for name in (*(term.switch for term in TERMS), "index_gradient", "detach_regression_input"):
            check_bool(getattr(self, name), name)

    def kwargs(self) -> dict[str, Any]:
        """Every field as a keyword argument of ``RecognizabilityLoss``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def terms(self) -> tuple[str, ...]:
        """The names of the switched-on terms (:data:`TERMS`); () is the margin head alone (Table 4's first
        row)."""
        return tuple(term.name for term in TERMS if getattr(self, term.switch))


@dataclass(frozen=True)
class UIConfig:
    """The UI statistics (mu_UI, sigma_UI) of Eq. 6.

    Attributes:
        ui_statistics: estimate them from the predicted index of the UI set each epoch instead of the paper's
            (0, 1).
        ui_statistics_samples: K of Eq. 6 (5,000 in the paper; fewer if the UI set is smaller).
    """

    ui_statistics: bool = field(
        default=False, metadata=_option("--ui-statistics", "estimate mu_UI, sigma_UI (Eq. 6) each epoch")
    )
    ui_statistics_samples: int = 5000

    def __post_init__(self) -> None:
        check_bool(self.ui_statistics, "ui_statistics")
        check_positive_int(self.ui_statistics_samples, "ui_statistics_samples", minimum=2)


@dataclass(frozen=True)
class OptimConfig:
    """Adam with per-module learning rates and a step decay (Table 5).

    Attributes:
        lr: per-module learning rates (:class:`LearningRates`).
        epochs: number of epochs.
        lr_decay_epoch: epoch (1-based, as the paper counts) from which the learning rates are multiplied by
            ``lr_decay_factor`` ("0.1 / 12th epoch" = epochs 12, 13, ... run at a tenth).
        lr_decay_factor: the decay multiplier.
        weight_decay: Adam weight decay (L2), applied to every group.
    """

    lr: LearningRates
    epochs: int = field(metadata=_option("--epochs", "number of epochs"))
    lr_decay_epoch: int = field(
        metadata=_option("--lr-decay-epoch", "1-based epoch from which the learning rates are x0.1")
    )
    lr_decay_factor: float = 0.1
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if not isinstance(self.lr, LearningRates):
            raise TypeError(f"expected lr to be a LearningRates, got {type(self.lr).__name__}")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.lr_decay_epoch, "lr_decay_epoch")
        check_positive_float(self.lr_decay_factor, "lr_decay_factor", allow_zero=True)
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)

    def lr_multiplier(self, epoch: int) -> float:
        """Learning-rate multiplier of (0-based) ``epoch``: ``lr_decay_factor`` from the decay epoch on."""
        return self.lr_decay_factor if epoch + 1 >= self.lr_decay_epoch else 1.0


@dataclass(frozen=True)
class DataConfig:
    """Batches, augmentation and validation (supplement Sec. B).

    Attributes:
        batch_size: mini-batch size per process.
        augment: the paper's augmentation (flip, rotation within +-10 degrees, random rescale).
        rescale_fractions: the random-rescale sizes as fractions of the input size (64/112 and 100/112).
        validation_fraction: share of the training set (at most ``validation_max``) used for validation,
            flipped and degraded to ``validation_degrade_size`` pixels then resized back.
        validation_max: cap on the number of validation images.
        validation_degrade_size: side the validation images are degraded to (16).
    """

    batch_size: int = field(metadata=_option("--batch-size", "mini-batch size per process"))
    augment: bool = True
    rescale_fractions: tuple[float, float] = (64 / 112, 100 / 112)
    validation_fraction: float = 0.1
    validation_max: int = 2000
    validation_degrade_size: int = 16

    def __post_init__(self) -> None:
        check_positive_int(self.batch_size, "batch_size")
        check_bool(self.augment, "augment")
        if len(self.rescale_fractions) != 2:
            raise ValueError(f"expected rescale_fractions to be a pair, got {self.rescale_fractions!r}")
        for value in self.rescale_fractions:
            check_float_in_range(value, "rescale_fractions", 0.0, 1.0, low_closed=False)
        check_float_in_range(self.validation_fraction, "validation_fraction", 0.0, 1.0, high_closed=False)
        check_positive_int(self.validation_max, "validation_max")
        check_positive_int(self.validation_degrade_size, "validation_degrade_size")


@dataclass(frozen=True)
class ConfigOption:
    """A configuration field offered on the command line: ``"section.field"`` path, flag, help and type."""

    path: str
    flag: str
    help: str
    kind: type[Any]
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None


#: The sections of a :class:`TrainingConfig`, in order, with their types.
_SECTIONS: dict[str, type[Any]] = {
    "run": RunConfig,
    "model": ModelConfig,
    "head": HeadConfig,
    "loss": LossConfig,
    "ui": UIConfig,
    "optim": OptimConfig,
    "data": DataConfig,
}


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines one fine-tuning run; see the module docstring for the sections."""

    run: RunConfig
    model: ModelConfig
    head: HeadConfig
    loss: LossConfig
    ui: UIConfig
    optim: OptimConfig
    data: DataConfig

    def __post_init__(self) -> None:
        for name, kind in _SECTIONS.items():
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise TypeError(f"expected {name} to be a {kind.__name__}, got {type(value).__name__}")

    @property
    def losses(self) -> tuple[str, ...]:
        """The switched-on terms among ("id", "mse", "l1"); () is ArcFace alone (Table 4 first row)."""
        return self.loss.terms

    def with_losses(self, losses: Sequence[str]) -> TrainingConfig:
        """A copy with exactly the given loss terms switched on (names of :data:`TERMS`)."""
        unknown = [name for name in losses if name not in LOSS_TERMS]
        if unknown:
            raise ValueError(f"expected loss terms from {LOSS_TERMS}, got {unknown}")
        return self.replace(**{term.switch: term.name in losses for term in TERMS})

    def replace(self, **changes: Any) -> TrainingConfig:
        """A copy with fields changed by name: ``"optim.epochs"``-style paths or plain field names
        (``epochs=3``), which are unique across the sections. Unknown names are an error."""
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            section, name = self.locate(key)
            grouped.setdefault(section, {})[name] = value
        head = grouped.get("head", {})
        if head.get("name", self.head.name) != self.head.name:  # s and m belong to the head (HeadConfig)
            head.setdefault("scale", None)
            head.setdefault("margin", None)
        return dataclasses.replace(
            self,
            **{s: dataclasses.replace(getattr(self, s), **values) for s, values in grouped.items()},
        )

    @staticmethod
    def locate(key: str) -> tuple[str, str]:
        """``(section, field)`` of a field given as ``"section.field"`` or as its unique name."""
        section, dot, name = key.rpartition(".")
        if dot:
            if section in _SECTIONS and name in _field_names(_SECTIONS[section]):
                return section, name
        else:
            owners = [s for s, kind in _SECTIONS.items() if name in _field_names(kind)]
            if len(owners) == 1:
                return owners[0], name
        raise ValueError(f"expected a field of TrainingConfig ({', '.join(_all_paths())}), got {key!r}")

    @staticmethod
    def fields() -> Iterator[tuple[str, dataclasses.Field[Any]]]:
        """Every leaf field as ``(section, field)``, in order."""
        for section, kind in _SECTIONS.items():
            for f in dataclasses.fields(kind):
                yield section, f

    @staticmethod
    def options() -> list[ConfigOption]:
        """The fields that are command-line options (``metadata["option"]``), in order."""
        out = []
        for section, kind in _SECTIONS.items():
            hints = get_type_hints(kind)
            for f in dataclasses.fields(kind):
                if "option" in f.metadata:
                    types = [t for t in get_args(hints[f.name]) if t is not type(None)] or [hints[f.name]]
                    out.append(
                        ConfigOption(
                            f"{section}.{f.name}",
                            f.metadata["option"],
                            f.metadata["help"],
                            types[0],
                            f.metadata.get("choices"),
                        )
                    )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict keyed by field name (the names are unique across the sections; the learning
        rates stay a dict, tuples become lists), plus the derived ``losses`` list. Flat, as release 0.1.0
        wrote its settings, so that checkpoints of either release are read by one :meth:`from_dict`."""
        out: dict[str, Any] = {}
        for section, f in self.fields():
            value = getattr(getattr(self, section), f.name)
            if isinstance(value, LearningRates):
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["losses"] = list(self.losses)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingConfig:
        """Inverse of :meth:`to_dict`; also reads the settings of release 0.1.0's checkpoints, which had no
        ``mode`` (its CPU demo was recognised by its description) and no ``name`` (ArcFace was its only head).

        Unknown keys are an error naming them, so a stale or foreign file fails loudly.
        """
        if not isinstance(values, Mapping):
            raise TypeError(f"expected a mapping of configuration values, got {type(values).__name__}")
        nested: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
        unknown = []
        for key, value in values.items():
            if key == "losses":  # derived from the use_* switches
                continue
            try:
                section, name = cls.locate(key)
            except ValueError:
                unknown.append(key)
                continue
            nested[section][name] = value
        if unknown:
            raise ValueError(f"expected TrainingConfig fields, got unknown keys {sorted(unknown)}")
        if "mode" not in nested["run"]:
            description = str(nested["run"].get("description", ""))
            nested["run"]["mode"] = "demo" if description.startswith("CPU demo") else "paper"
        if "lr" in nested["optim"]:
            nested["optim"]["lr"] = LearningRates(**nested["optim"]["lr"])
        if "rescale_fractions" in nested["data"]:
            nested["data"]["rescale_fractions"] = tuple(nested["data"]["rescale_fractions"])
        sections: dict[str, Any] = {}
        for name, kind in _SECTIONS.items():
            missing = [
                f.name
                for f in dataclasses.fields(kind)
                if f.name not in nested[name]
                and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
            ]
            if missing:
                raise ValueError(f"expected the {kind.__name__} fields {missing}, found none")
            sections[name] = kind(**nested[name])
        return cls(**sections)


def _field_names(kind: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(kind)}


def _all_paths() -> list[str]:
    return [f"{section}.{f.name}" for section, f in TrainingConfig.fields()]
