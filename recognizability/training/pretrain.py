"""Stage 1 of the paper's protocol: train a backbone with ArcFace on clean, high-resolution faces.

The paper never trains a very-low-resolution model from scratch: it fine-tunes backbones pretrained on
VGGFace2. The UI cluster that the Recognizability Index and the index diversion loss act on (Fig. 1) is a
property of such a backbone. This module is that first stage for any library backbone and any folder of clean
faces laid out as ``<identity>/<image>`` (the synthetic ``hr`` layout, or a user's own VGGFace2-like folder)::

    python -m recognizability.training.pretrain --out runs/pretrain            # the synthetic hr set
    python -m recognizability.training.pretrain --preset small --out runs/pretrain_small   # minutes
    python -m recognizability.training.pretrain --hr-root /data/faces --backbone iresnet50 --input-size 112 \
        --embedding-dim 512 --out runs/pretrain_r50

Each epoch reseeds every generator from ``(seed, epoch)`` (as the fine-tuning loop does), so a resumed run
(``--resume``) repeats exactly what an uninterrupted one would have done. The output folder holds ``last.pt``
(the resumable checkpoint) and ``backbone.pt`` (the backbone's state dict alone, the file
``--pretrained`` of the examples and :func:`~recognizability.backbones.load_pretrained` read).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from recognizability._files import write_atomically, write_json
from recognizability.backbones import create_backbone, normalize_for
from recognizability.backbones.base import FaceBackbone
from recognizability.data import ImageFolder
from recognizability.data import transforms as T
from recognizability.data.synthetic import generate_cached
from recognizability.nn import ArcFace

from .cli import size_options
from .data import ImageSet, load_image_set
from .method import check_batch_size_for_training
from .run.checkpoint import (
    CHECKPOINT_KIND,
    PRETRAINING_CHECKPOINT_KIND,
    CheckpointError,
    epoch_seed,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)
from .run.distributed import resolve_device
from .run.run_dir import CHECKPOINT_NAME, prepare_run_dir

#: The files of a pretraining run: a folder holding any of them holds a run (``--overwrite`` replaces all).
PRETRAIN_FILES: tuple[str, ...] = (CHECKPOINT_NAME, "backbone.pt", "pretrain.json")


@dataclass(frozen=True)
class PretrainPreset:
    """A named starting point of the command line: :class:`PretrainConfig` fields and synthetic ``hr`` sizes
    (options given on the command line override both).

    Attributes:
        config: fields of :class:`PretrainConfig` that differ from its defaults.
        sizes: size options of the synthetic ``hr`` set (``identities``, ``images_per_identity``, ...).
    """

    config: dict[str, Any]
    sizes: dict[str, int]


#: ``--preset``: "shipped" is the run that made the shipped ``synthetic-hr`` weights (the defaults: 1,000
#: identities x 16 images, 12 epochs); "small" is stage 1 in a few minutes on a CPU (200 x 16, 6 epochs):
#: enough to try the two-stage protocol end to end, not to replace the shipped weights.
PRESETS: dict[str, PretrainPreset] = {
    "shipped": PretrainPreset({}, {}),
    "small": PretrainPreset({"epochs": 6, "lr_decay_epoch": 5}, {"identities": 200}),
}

__all__ = [
    "PRESETS",
    "PretrainConfig",
    "PretrainPreset",
    "PretrainResult",
    "build_pretraining",
    "load_identity_folder",
    "main",
    "pretrain",
]


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a pretraining run depends on.

    Attributes:
        backbone: a name of :func:`~recognizability.backbones.create_backbone`.
        input_size: side of the square network input (images are bicubic-resized to it).
        embedding_dim: ``D`` of the embeddings.
        epochs: passes over the training set.
        batch_size: images per optimiser step.
        lr: Adam learning rate of the backbone and the ArcFace prototypes.
        lr_decay_epoch: 1-based epoch from which the learning rate is multiplied by ``lr_decay_factor``.
        lr_decay_factor: the decay multiplier.
        weight_decay: Adam weight decay.
        scale, margin: ArcFace ``s`` and ``m`` (radians).
        flip_p: probability of the horizontal flip (the only augmentation: the faces are clean).
        seed: data order, flips and initialisation are functions of it.
    """

    backbone: str = "small_vlr_net"
    input_size: int = 32
    embedding_dim: int = 128
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    lr_decay_epoch: int = 10
    lr_decay_factor: float = 0.1
    weight_decay: float = 5e-4
    scale: float = 32.0
    margin: float = 0.3
    flip_p: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("input_size", "embedding_dim", "epochs", "batch_size", "lr_decay_epoch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be an int >= 1, got {value!r}")
        for name in ("lr", "lr_decay_factor", "scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"expected {name} to be a number > 0, got {value!r}")
        if not 0.0 <= self.weight_decay:
            raise ValueError(f"expected weight_decay >= 0, got {self.weight_decay!r}")
        if not 0.0 <= self.flip_p <= 1.0:
            raise ValueError(f"expected flip_p in [0, 1], got {self.flip_p!r}")

    def lr_multiplier(self, epoch: int) -> float:
        """Learning-rate multiplier of 0-based ``epoch``."""
        return self.lr_decay_factor if epoch + 1 >= self.lr_decay_epoch else 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (written into the checkpoint and the report)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (settings of a fine-tuning run are named
        as such)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown and {"tau", "use_regression", "freeze_batchnorm"} <= set(values):
            raise ValueError(
                "expected the settings of a pretraining (stage 1) run, got those of a fine-tuning (stage 2) "
                "run (a TrainingConfig of an example script's OUT/<run>/last.pt): such a run is continued "
                "with the example's --resume"
            )
        if unknown:
            raise ValueError(f"expected PretrainConfig fields, got unknown keys {unknown}")
        return cls(**values)


@dataclass
class PretrainResult:
    """The trained backbone and ArcFace head, and one record per epoch (loss, images/s)."""

    backbone: FaceBackbone
    head: ArcFace
    history: list[dict[str, float]]


def load_identity_folder(root: str | Path, size: int) -> ImageSet:
    """Every image under ``root`` laid out as ``<identity>/<image>``, labelled by its identity folder.

    Labels are 0 .. C-1 in the natural order of the folder names
    (``ImageFolder(root, identity_folders=True)``); images directly in ``root`` are left out.

    Raises:
        FileNotFoundError: no image under ``root``.
        ValueError: fewer than 2 identities (nothing to classify).
    """
    folder = ImageFolder(root, identity_folders=True)
    identities = len({sample.label for sample in folder.samples})
    if identities < 2:
        raise ValueError(
            f"expected at least 2 identity folders under {str(folder.root)!r} to train a classifier, "
            f"got {identities}"
        )
    return load_image_set(folder, size)


def _batch(
    images_uint8: Tensor, backbone: FaceBackbone, size: int, flip: T.TrainAugmentation | None
) -> Tensor:
    x = images_uint8.float()
    if flip is not None:
        x = flip(x)
    if tuple(x.shape[-2:]) != (size, size):
        x = T.resize_batch(x, (size, size), value_range=(0.0, 255.0))
    return normalize_for(backbone, x)


def build_pretraining(
    config: PretrainConfig, num_classes: int, device: torch.device
) -> tuple[FaceBackbone, ArcFace, torch.optim.Optimizer]:
    """The pieces of stage 1 from a fresh seed (``config.seed``): the backbone, its ArcFace head over
    ``num_classes`` identities, and Adam over both (``config.lr``, ``config.weight_decay``)."""
    seed_everything(config.seed)
    size = (config.input_size, config.input_size)
    backbone = create_backbone(config.backbone, input_size=size, embedding_dim=config.embedding_dim).to(
        device
    )
    head = ArcFace(config.embedding_dim, num_classes, scale=config.scale, margin=config.margin).to(device)
    optimizer = torch.optim.Adam(
        [*backbone.parameters(), *head.parameters()], lr=config.lr, weight_decay=config.weight_decay
    )
    return backbone, head, optimizer


def pretrain(
    config: PretrainConfig,
    data: ImageSet,
    *,
    device: str | torch.device = "cpu",
    start: tuple[FaceBackbone, ArcFace, torch.optim.Optimizer, int] | None = None,
    on_epoch_end: Callable[[FaceBackbone, ArcFace, torch.optim.Optimizer, int, list[dict[str, float]]], None]
    | None = None,
    log: Callable[[str], None] | None = print,
) -> PretrainResult:
    """Train ``config.backbone`` with ArcFace on the identity-labelled ``data`` (stage 1 of the protocol).

    Args:
        config: the run's :class:`PretrainConfig`.
        data: images in memory with labels ``0 .. C-1`` (:func:`load_identity_folder`).
        device: where to train.
        start: ``(backbone, head, optimizer, finished_epochs)`` to continue from (resume); None builds them
            from ``config.seed``.
        on_epoch_end: called after every epoch with the objects, the number of finished epochs and the
            history (the command line writes its checkpoint there).
        log: one line per epoch (None: silent).
    """
    device = torch.device(device)
    num_classes = int(data.labels.max()) + 1
    if num_classes < 2:
        raise ValueError(f"expected at least 2 identities to train a classifier, got {num_classes}")
    if start is None:
        backbone, head, optimizer = build_pretraining(config, num_classes, device)
        finished = 0
    else:
        backbone, head, optimizer, finished = start
    check_batch_size_for_training(backbone, config.batch_size)  # before the first step changes anything
    history: list[dict[str, float]] = []
    steps = len(data) // config.batch_size
    if steps == 0:
        raise ValueError(
            f"expected at least one full batch, got {len(data)} images for batch_size {config.batch_size}"
        )
    for epoch in range(finished, config.epochs):
        seed_everything(epoch_seed(config.seed, epoch))
        generator = torch.Generator().manual_seed(epoch_seed(config.seed, epoch))
        flip = T.TrainAugmentation(
            config.input_size, flip_p=config.flip_p, max_degrees=0.0, rescale_sizes=(),
            normalize_output=False, generator=generator,
        )  # fmt: skip
        for group in optimizer.param_groups:
            group["lr"] = config.lr * config.lr_multiplier(epoch)
        backbone.train()
        head.train()
        order = torch.randperm(len(data), generator=generator)
        total = torch.zeros((), device=device)
        began = time.perf_counter()
        for step in range(steps):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            x = _batch(data.images[index].to(device), backbone, config.input_size, flip)
            out = head(backbone(x), data.labels[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            total += out.loss.detach()
        seconds = time.perf_counter() - began
        record = {"epoch": float(epoch + 1), "loss": float(total) / steps, "images_per_second": steps *
                  config.batch_size / max(seconds, 1e-9)}  # fmt: skip
        history.append(record)
        if log is not None:
            log(f"epoch {epoch + 1}/{config.epochs}: loss {record['loss']:.3f}, "
                f"{record['images_per_second']:.0f} images/s")  # fmt: skip
        if on_epoch_end is not None:
            on_epoch_end(backbone, head, optimizer, epoch + 1, history)
    backbone.eval()
    head.eval()
    return PretrainResult(backbone, head, history)


def _pair(backbone: FaceBackbone, head: ArcFace) -> nn.ModuleDict:
    """The two trained modules as one, so one checkpoint holds both (keys ``backbone.*``, ``head.*``)."""
    return nn.ModuleDict({"backbone": backbone, "head": head})


def build_parser() -> argparse.ArgumentParser:
    """The command line: one option per :class:`PretrainConfig` field, plus the data and the output."""
    p = argparse.ArgumentParser(
        prog="python -m recognizability.training.pretrain",
        description="Stage 1: train a backbone with ArcFace on clean faces laid out as <identity>/<image>.",
    )
    p.add_argument(
        "--hr-root", help="folder of clean faces, <identity>/<image> (absent: the synthetic hr set)"
    )
    p.add_argument("--synthetic-seed", type=int, default=0, help="seed of the synthetic hr set")
    p.add_argument(
        "--synthetic-size", action="append", default=[], metavar="KEY=N",
        help="size of the synthetic hr set (identities, images_per_identity, image_size); repeatable",
    )  # fmt: skip
    p.add_argument(
        "--preset", choices=tuple(PRESETS), default="shipped",
        help="shipped: the run of the shipped synthetic-hr weights (1,000 x 16 faces, 12 epochs, minutes on "
        "one CPU thread); small: 200 x 16 faces, 6 epochs, about a minute (options below override either)",
    )  # fmt: skip
    defaults = PretrainConfig()
    for f in dataclasses.fields(PretrainConfig):
        value = getattr(defaults, f.name)
        p.add_argument(
            f"--{f.name.replace('_', '-')}", type=type(value), default=None,
            help=f"(default {value}; --preset small: {PRESETS['small'].config.get(f.name, value)})",
        )  # fmt: skip
    p.add_argument("--out", required=True, help="output folder: last.pt, backbone.pt, pretrain.json")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in --out (kept until the new run writes its first checkpoint)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    return p


def _checked_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> PretrainConfig:
    """The run's configuration; a bad value is a usage error naming its option. The backbone and the ArcFace
    head are built on the ``meta`` device (no memory) to check the architecture options and the batch size
    against the batch-norm layers."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainConfig)}
    given = {name: value for name, value in given.items() if value is not None}
    for name, value in given.items():
        try:
            PretrainConfig(**{name: value})
        except (TypeError, ValueError) as err:
            parser.error(f"argument --{name.replace('_', '-')}: {err}")
    config = PretrainConfig(**{**PRESETS[args.preset].config, **given})
    try:
        with torch.device("meta"):
            backbone = create_backbone(
                config.backbone, input_size=(config.input_size,) * 2, embedding_dim=config.embedding_dim
            )
            ArcFace(config.embedding_dim, 2, scale=config.scale, margin=config.margin)
    except (TypeError, ValueError, KeyError) as err:
        parser.error(f"arguments --backbone/--input-size/--embedding-dim/--scale/--margin: {err}")
    try:
        check_batch_size_for_training(backbone, config.batch_size)
    except ValueError as err:
        parser.error(f"argument --batch-size: {err}")
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2, with a usage error naming the option, for a bad
    option value or input found before training: nothing is written then)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"argument --threads: expected an int >= 1, got {args.threads}")
    if args.resume and args.overwrite:
        parser.error("argument --overwrite: not allowed with --resume (continue the run, or replace it)")
    config = _checked_config(parser, args)
    try:
        device = resolve_device(args.device)
        sizes = {**PRESETS[args.preset].sizes, **size_options(args.synthetic_size, "--synthetic-size")}
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    if args.hr_root is not None and not Path(args.hr_root).is_dir():
        parser.error(
            f"argument --hr-root: expected a folder of <identity>/<image> faces, got {args.hr_root!r}"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        run = prepare_run_dir(
            args.out, resume=args.resume, overwrite=args.overwrite, settings=config, run_files=PRETRAIN_FILES,
            kinds=(PRETRAINING_CHECKPOINT_KIND, CHECKPOINT_KIND),  # the second: files of earlier releases
        )  # fmt: skip
    except (OSError, ValueError, TypeError, CheckpointError) as err:
        parser.error(str(err))
    try:
        if args.hr_root is None:
            root = generate_cached("hr", args.synthetic_seed, sizes)
            provenance = "synthetic"
        else:
            root, provenance = Path(args.hr_root), "user folder"
        data = load_identity_folder(root, config.input_size)
    except (OSError, ValueError, TypeError) as err:
        parser.error(f"argument {'--hr-root' if args.hr_root else '--synthetic-size'}: {err}")
    print(f"pretraining {config.backbone} on {root} ({provenance}) -> {run.path}", file=sys.stderr)
    start = None
    if run.resume_checkpoint is not None:
        backbone, head, optimizer = build_pretraining(config, int(data.labels.max()) + 1, device)
        payload = load_checkpoint(
            run.resume_checkpoint, model=_pair(backbone, head), optimizer=optimizer, settings=config
        )
        start = (backbone, head, optimizer, int(payload["epoch"]))

    def checkpoint(
        backbone: FaceBackbone, head: ArcFace, optimizer: torch.optim.Optimizer, epochs: int, history: Any
    ) -> None:
        with run.replacing_earlier_run():  # --overwrite: the earlier run makes way for the first checkpoint
            save_checkpoint(
                run.checkpoint, model=_pair(backbone, head), optimizer=optimizer, scheduler=None,
                epoch=epochs, settings=config, extra={"history": history}, kind=PRETRAINING_CHECKPOINT_KIND,
            )  # fmt: skip

    began = time.time()
    result = pretrain(config, data, device=device, start=start, on_epoch_end=checkpoint,
                      log=lambda line: print(line, file=sys.stderr))  # fmt: skip
    weights = run.path / "backbone.pt"
    state = {k: v.detach().cpu().contiguous() for k, v in result.backbone.state_dict().items()}
    write_atomically(weights, lambda handle: torch.save(state, handle))
    words = sys.argv[1:] if argv is None else list(argv)
    report = {
        "config": config.to_dict(),
        "data": {"root": str(root), "provenance": provenance, "images": len(data),
                 "identities": int(data.labels.max()) + 1},
        "history": result.history,
        "seconds": time.time() - began,
        "backbone_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "command": " ".join(["python -m recognizability.training.pretrain", *words]),
    }  # fmt: skip
    write_json(run.path / "pretrain.json", report)
    print(f"wrote {weights} (sha256 {report['backbone_sha256']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
