"""The command line of ``examples/train_{tinyface,scface,survface}.py``.

Options that set a field of the configuration (``--epochs``, ``--tau``, ...) are derived from the fields of
:class:`~recognizability.training.TrainingConfig` that carry an ``option`` in their metadata: the flag, the
help text and the type come from the field, and the parsed value replaces that field. The other options say
how to run (:class:`~recognizability.training.RunOptions`).

Configuration choice (printed at the start of every run):

- a GPU or ``--data-root`` given: the paper's configuration (Table 5; ``--backbone`` iresnet50 by default, or
  mobilefacenet with its learning rates) at 112 x 112;
- neither: the declared CPU demo configuration (``small_vlr_net`` at 32 x 32 on the synthetic benchmark),
  which is not the paper's and says so. ``--config paper|demo`` forces either.

Without ``--losses`` the demo trains ArcFace alone and the full method and prints the comparison it measured;
the paper mode trains the full method; with ``--losses`` one run with exactly those terms.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recognizability._figures import add_vector_option, check_vector_formats
from recognizability.backbones import CheckpointError, available_pretrained, load_pretrained
from recognizability.data.synthetic import UISizes, sizes_for

from .config import LOSS_TERMS, TrainingConfig, demo_config, describe, get_benchmark, paper_config
from .data.sources import SYNTHETIC_SCALE
from .method import (
    build_backbone,
    build_criterion,
    check_batch_size_for_training,
    check_frozen_batchnorm_has_weights,
)
from .run import RunOptions, TrainingCheckpoint, prepare_run_dir, resolve_device
from .run.distributed import launched_by_torchrun

__all__ = ["ExampleArguments", "build_parser", "choose_config", "parse_args", "planned_runs", "size_options"]


@dataclass(frozen=True)
class ExampleArguments:
    """A parsed and checked command line: everything a script needs to run, decided once.

    Attributes:
        dataset: the benchmark of the script.
        options: how to run (:class:`RunOptions`).
        config: the configuration (Table 5, or the declared CPU demo) with the command line's changes.
        runs: the runs to make, by name (:func:`planned_runs`).
        checkpoints: with ``--resume``, the checkpoint of each run that has one, read and checked against its
            configuration (the session loads it without reading the file again).
    """

    dataset: str
    options: RunOptions
    config: TrainingConfig
    runs: dict[str, TrainingConfig]
    checkpoints: dict[str, TrainingCheckpoint] = field(default_factory=dict)


def choose_config(
    dataset: str, choice: str, gpu: bool, real_data: bool, overrides: dict[str, Any]
) -> TrainingConfig:
    """Table 5 (``choice`` "paper", or "auto" with a GPU or a real dataset) or the declared CPU demo, with the
    command line's ``overrides`` (``"section.field"`` -> value)."""
    if choice == "auto":
        choice = "paper" if (gpu or real_data) else "demo"
    if choice == "paper":
        config = paper_config(dataset, overrides.get("model.backbone") or "iresnet50")
    else:
        config = demo_config(dataset)
    config = config.replace(**overrides)
    return config.replace(description=describe(config))  # says what is loaded, --pretrained FILE included


def _config_options(parser: argparse.ArgumentParser) -> None:
    """One option per configuration field that declares one, named, typed and explained by the field."""
    group = parser.add_argument_group("configuration (fields of TrainingConfig; default: the preset's)")
    for option in TrainingConfig.options():
        if option.kind is bool:
            kind: dict[str, Any] = {"action": argparse.BooleanOptionalAction}
        else:
            kind = {"type": option.kind}
        if option.choices is not None:
            kind["choices"] = option.choices() if callable(option.choices) else option.choices
        group.add_argument(option.flag, dest=option.path, default=None, help=option.help, **kind)


def build_parser(dataset: str, description: str = "") -> argparse.ArgumentParser:
    """The argument parser of an example script (every option documented in docs/training.md)."""
    p = argparse.ArgumentParser(description=description or f"Train on {dataset} (paper Table 5 recipe).")
    p.add_argument(
        "--data-root", help="dataset root in the real layout (absent: synthetic benchmark, cached)"
    )
    p.add_argument("--ui-root", help="folder of unrecognisable images (absent: the synthetic UI set)")
    p.add_argument(
        "--config",
        choices=("auto", "paper", "demo"),
        default="auto",
        help="paper (Table 5, 112x112) or the CPU demo; auto: paper with a GPU or a real dataset",
    )
    _config_options(p)
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast on CUDA")
    p.add_argument("--compile", action="store_true", help="torch.compile the backbone's trunk")
    p.add_argument(
        "--losses",
        help=f"comma-separated terms on top of the margin head (--head) from {LOSS_TERMS}, or 'all'; "
        "'none' = the head alone",
    )
    p.add_argument(
        "--no-baseline", action="store_true", help="demo: skip the margin-head-alone comparison run"
    )
    p.add_argument("--synthetic-seed", type=int, default=0, help="seed of the generated benchmark")
    p.add_argument(
        "--synthetic-size",
        action="append",
        default=[],
        metavar="KEY=N",
        help="size options passed to the synthetic generator (repeatable); UI keys (face_images, "
        "nonface_images) go to the UI set",
    )
    p.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's, or 1 when the CPU is already busy: oversubscribed "
        "threads can make a step 8x slower)",
    )
    p.add_argument("--out", default=f"runs/{dataset}", help="output folder: checkpoints, report.json, plots")
    p.add_argument("--resume", action="store_true", help="continue from OUT/<run>/last.pt")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in OUT/<run> (kept until the new run writes its first checkpoint)",
    )
    p.add_argument("--no-plots", action="store_true", help="write report.json only, no figures")
    add_vector_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # the name of earlier releases
    return p


def _parse_losses(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in ("none", "arcface", ""):
        return ()
    terms = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    if "all" in terms:
        return LOSS_TERMS
    unknown = [t for t in terms if t not in LOSS_TERMS]
    if unknown:
        raise ValueError(f"--losses: expected terms from {LOSS_TERMS} (or 'none'/'all'), got {unknown}")
    return terms


def size_options(items: Sequence[str], flag: str) -> dict[str, int]:
    """Repeated ``KEY=N`` options (``--synthetic-size``) as a dict; N a non-negative int.

    Raises:
        ValueError: an item that is not ``KEY=N``, naming ``flag``.
    """
    sizes: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip().isdigit():
            raise ValueError(f"{flag}: expected KEY=N with N a non-negative int, got {item!r}")
        sizes[key.strip()] = int(value)
    return sizes


def _synthetic_sizes(items: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """``KEY=N`` options -> (dataset sizes, UI sizes); the UI set's field names route a key to the UI set."""
    ui_names = {f.name for f in dataclasses.fields(UISizes)}
    sizes = size_options(items, "--synthetic-size")
    return {k: v for k, v in sizes.items() if k not in ui_names}, {
        k: v for k, v in sizes.items() if k in ui_names
    }


def _check_out(out: Path) -> None:
    """``--out``: not a file, and (when it does not exist yet) under a folder this process can write."""
    for candidate in (out, *out.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise NotADirectoryError(
                    f"expected --out {str(out)!r} to be a folder, but {str(candidate)!r} is a file"
                )
            if not os.access(candidate, os.W_OK | os.X_OK):
                raise PermissionError(
                    f"expected --out {str(out)!r} to be a folder this process can write, got no write "
                    f"permission in {str(candidate)!r}"
                )
            return


def _check_pretrained(config: TrainingConfig) -> None:
    """``--pretrained`` is weights shipped for the backbone, or a file of weights that fit it: the file is
    read and checked against the backbone built on the ``meta`` device (no memory for it, nothing copied;
    :func:`~recognizability.backbones.load_pretrained`'s checks)."""
    model = config.model
    shipped = available_pretrained().get(model.backbone, [])
    if model.pretrained is None or model.pretrained in shipped:
        return
    path = Path(model.pretrained).expanduser()
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise FileNotFoundError(
            f"expected --pretrained to be a checkpoint file or weights shipped for {model.backbone} "
            f"({shipped or 'none'}), got {model.pretrained!r} ({what})"
        )
    with torch.device("meta"):
        backbone = build_backbone(dataclasses.replace(model, pretrained=None))
    with warnings.catch_warnings():
        # torch warns that copying into a meta parameter is a no-op: nothing is meant to be copied
        warnings.simplefilter("ignore", UserWarning)
        try:
            load_pretrained(backbone, path)
        except CheckpointError as err:
            raise ValueError(f"--pretrained: {err}") from None


def _check_batch_of_one(config: TrainingConfig) -> None:
    """A batch size of 1 fits the model's batch-norm layers, checked on the backbone and the criterion built
    on the ``meta`` device (no memory, no weights read)."""
    if config.data.batch_size != 1:  # >= 1 checked by DataConfig; batch norm trains on 2 or more
        return
    with torch.device("meta"):
        backbone = build_backbone(dataclasses.replace(config.model, pretrained=None))
        criterion = build_criterion(config, backbone)
    try:
        check_batch_size_for_training(nn.ModuleDict({"backbone": backbone, "criterion": criterion}), 1)
    except ValueError as err:
        raise ValueError(f"--batch-size: {err}") from None


def _check_sharded(config: TrainingConfig) -> None:
    if config.head.parallel == "sharded" and not launched_by_torchrun():
        raise ValueError(
            "argument --head-parallel: expected 'sharded' under torchrun (the classes are split over its "
            "processes), got a single process started without torchrun; use --head-parallel chunked on one "
            "device, or torchrun --nproc_per_node=N"
        )


def _check(
    parser: argparse.ArgumentParser, args: argparse.Namespace, options: RunOptions
) -> ExampleArguments:
    """Every check of the command line, before anything is loaded or written, as usage errors (exit status
    2): the configuration each option builds, the device, the data folders, the synthetic sizes, the runs'
    output folders (and, with ``--resume``, their checkpoints against the configuration), frozen batch norm
    without weights, ``--pretrained`` against the backbone, the batch size against the model's batch-norm
    layers, a sharded head without torchrun."""
    dataset = args.dataset
    try:
        device = resolve_device(options.device)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    overrides = {dest: value for dest, value in vars(args).items() if "." in dest and value is not None}
    base = demo_config(dataset)
    for path, value in overrides.items():
        flag = next(option.flag for option in TrainingConfig.options() if option.path == path)
        try:
            base.replace(**{path: value})
        except (TypeError, ValueError) as err:
            parser.error(f"argument {flag}: {err}")
    for flag, folder in (("--data-root", options.data_root), ("--ui-root", options.ui_root)):
        if folder is not None and not Path(folder).is_dir():
            what = "a file" if Path(folder).exists() else "no such folder"
            parser.error(f"argument {flag}: expected a folder, got {folder!r} ({what})")
    spec = get_benchmark(dataset)
    generated = (
        ("dataset", options.synthetic_sizes, options.data_root, spec.synthetic_layout),
        ("UI set", options.synthetic_ui_sizes, options.ui_root, "ui"),
    )
    for name, sizes, root, layout in generated:
        if sizes and root is not None:
            parser.error(
                f"argument --synthetic-size: {sorted(sizes)} size the generated {name}, which "
                f"{'--data-root' if name == 'dataset' else '--ui-root'} {root!r} replaces"
            )
        try:
            sizes_for(layout, SYNTHETIC_SCALE, **sizes)
        except (TypeError, ValueError) as err:
            parser.error(f"argument --synthetic-size: {err}")
    try:
        losses = _parse_losses(args.losses)
        config = choose_config(
            dataset, args.config, device.type == "cuda", options.data_root is not None, overrides
        )
        runs = planned_runs(config, losses, baseline=not args.no_baseline)
        _check_out(options.out)
        checkpoints = {}
        for name, run_config in runs.items():
            check_frozen_batchnorm_has_weights(run_config.model)
            _check_sharded(run_config)
            run_dir = prepare_run_dir(
                options.out / name, resume=options.resume, overwrite=options.overwrite, settings=run_config,
                writer=False,
            )  # fmt: skip
            if run_dir.resume_checkpoint is not None:
                checkpoints[name] = run_dir.resume_checkpoint
        for model_config in {run_config.model for run_config in runs.values()}:
            _check_pretrained(dataclasses.replace(config, model=model_config))
        for run_config in runs.values():
            _check_batch_of_one(run_config)
    except (OSError, ValueError, TypeError) as err:
        parser.error(str(err))
    return ExampleArguments(dataset, options, config, runs, checkpoints)


def parse_args(dataset: str, argv: Sequence[str] | None = None, description: str = "") -> ExampleArguments:
    """Parse and check an example script's command line (``argv`` None: ``sys.argv[1:]``).

    A bad option value is a usage error (``error: ...`` naming the option, what it expects and what it got;
    exit status 2), found before anything is loaded or written: the configuration fields, the device, the
    data folders, the synthetic sizes, ``--out`` (a file, unwritable, or holding a run without ``--resume`` or
    ``--overwrite``), ``--resume`` with other settings, ``--pretrained`` (missing, or not weights of the
    backbone; required by frozen batch norm), ``--batch-size`` (1 with batch-norm layers that train),
    ``--head-parallel sharded`` without torchrun. The session trusts the result and checks none of it again.
    """
    parser = build_parser(dataset, description)
    args = parser.parse_args(argv)
    args.dataset = dataset
    if args.threads is not None and args.threads < 1:
        parser.error(f"argument --threads: expected an int >= 1, got {args.threads}")
    if args.resume and args.overwrite:
        parser.error("argument --overwrite: not allowed with --resume (continue the run, or replace it)")
    try:
        sizes, ui_sizes = _synthetic_sizes(args.synthetic_size)
    except ValueError as err:
        parser.error(str(err))
    options = RunOptions(
        out=Path(args.out), data_root=args.data_root, ui_root=args.ui_root,
        synthetic_seed=args.synthetic_seed, synthetic_sizes=sizes, synthetic_ui_sizes=ui_sizes,
        device=args.device, threads=args.threads, amp=args.amp, compile=args.compile, resume=args.resume,
        overwrite=args.overwrite, plots=not args.no_plots, progress=not (args.no_progress or args.quiet),
        vector=check_vector_formats(args.vector),
    )  # fmt: skip
    return _check(parser, args, options)


def planned_runs(
    config: TrainingConfig, losses: Sequence[str] | None, baseline: bool = True
) -> dict[str, TrainingConfig]:
    """The runs to make: ``losses`` (``--losses``) gives one; otherwise the full method, preceded in the demo
    mode by the margin head alone (``--head``, ArcFace by default), the baseline it is compared with (unless
    ``baseline`` is False, ``--no-baseline``). Runs are named by the head and the terms (``arcface``,
    ``cosface+id+mse``, ``full``)."""
    if losses is not None:
        return {"+".join((config.head.name, *losses)): config.with_losses(losses)}
    runs: dict[str, TrainingConfig] = {}
    if config.run.mode == "demo" and baseline:
        runs[config.head.name] = config.with_losses(())
    runs["full"] = config.with_losses(LOSS_TERMS)
    return runs
