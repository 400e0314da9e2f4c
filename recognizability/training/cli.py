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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recognizability.data.synthetic import UISizes, sizes_for

from .benchmarks import get_benchmark
from .config import LOSS_TERMS, TrainingConfig
from .data import SYNTHETIC_SCALE
from .distributed import resolve_device
from .guards import check_frozen_batchnorm_has_weights
from .presets import demo_config, paper_config
from .run_dir import prepare_run_dir
from .session import RunOptions, check_config_can_train

__all__ = ["ExampleArguments", "build_parser", "parse_args", "planned_runs"]


@dataclass(frozen=True)
class ExampleArguments:
    """A parsed command line.

    Attributes:
        dataset: the benchmark of the script.
        options: how to run (:class:`RunOptions`).
        config_choice: "auto", "paper" or "demo".
        overrides: configuration fields set on the command line, by ``"section.field"`` path.
        losses: ``--losses`` (None: not given; (): ArcFace alone).
        baseline: whether the demo also trains ArcFace alone (not ``--no-baseline``).
    """

    dataset: str
    options: RunOptions
    config_choice: str
    overrides: dict[str, Any]
    losses: tuple[str, ...] | None
    baseline: bool

    def config(self, gpu: bool) -> TrainingConfig:
        """Table 5 (with a GPU or a real dataset, or ``--config paper``) or the declared CPU demo, with the
        command line's overrides."""
        choice = self.config_choice
        if choice == "auto":
            choice = "paper" if (gpu or self.options.data_root is not None) else "demo"
        backbone = self.overrides.get("model.backbone")
        if choice == "paper":
            config = paper_config(self.dataset, backbone or "iresnet50")
        else:
            config = demo_config(self.dataset)
        return config.replace(**self.overrides)


def _config_options(parser: argparse.ArgumentParser) -> None:
    """One option per configuration field that declares one, named, typed and explained by the field."""
    group = parser.add_argument_group("configuration (fields of TrainingConfig; default: the preset's)")
    for option in TrainingConfig.options():
        if option.kind is bool:
            kind: dict[str, Any] = {"action": argparse.BooleanOptionalAction}
        else:
            kind = {"type": option.kind}
        if option.choices is not None:
            kind["choices"] = option.choices
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
        "--losses", help=f"comma-separated terms on top of ArcFace from {LOSS_TERMS}; 'none' = ArcFace"
    )
    p.add_argument("--no-baseline", action="store_true", help="demo: skip the ArcFace-only comparison run")
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
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
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


def _synthetic_sizes(items: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """``KEY=N`` options -> (dataset sizes, UI sizes); the UI set's field names route a key to the UI set."""
    ui_names = {f.name for f in dataclasses.fields(UISizes)}
    sizes: dict[str, int] = {}
    ui_sizes: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"--synthetic-size: expected KEY=N with N a non-negative int, got {item!r}")
        (ui_sizes if key in ui_names else sizes)[key.strip()] = int(value)
    return sizes, ui_sizes


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


def _check_arguments(parser: argparse.ArgumentParser, arguments: ExampleArguments) -> None:
    """Every check of the command line that needs no data and no weights, as usage errors (exit status 2):
    the configuration each option builds, the device, the data folders, the runs' output folders, frozen batch
    norm without weights, the batch size against the model's batch-norm layers."""
    o = arguments.options
    try:
        device = resolve_device(o.device)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    base = demo_config(arguments.dataset)
    for path, value in arguments.overrides.items():
        flag = next(option.flag for option in TrainingConfig.options() if option.path == path)
        try:
            base.replace(**{path: value})
        except (TypeError, ValueError) as err:
            parser.error(f"argument {flag}: {err}")
    for flag, folder in (("--data-root", o.data_root), ("--ui-root", o.ui_root)):
        if folder is not None and not Path(folder).is_dir():
            what = "a file" if Path(folder).exists() else "no such folder"
            parser.error(f"argument {flag}: expected a folder, got {folder!r} ({what})")
    spec = get_benchmark(arguments.dataset)
    for name, sizes, root, layout in (("dataset", o.synthetic_sizes, o.data_root, spec.synthetic_layout),
                                      ("UI set", o.synthetic_ui_sizes, o.ui_root, "ui")):  # fmt: skip
        if sizes and root is not None:
            parser.error(
                f"argument --synthetic-size: {sorted(sizes)} size the generated {name}, which "
                f"{'--data-root' if name == 'dataset' else '--ui-root'} {root!r} replaces"
            )
        try:
            sizes_for(layout, SYNTHETIC_SCALE, **sizes)
        except (TypeError, ValueError) as err:
            parser.error(f"argument --synthetic-size: {err}")
    config = arguments.config(gpu=device.type == "cuda")
    try:
        _check_out(o.out)
        for name, run_config in planned_runs(config, arguments).items():
            check_frozen_batchnorm_has_weights(run_config.model)
            check_config_can_train(run_config)
            prepare_run_dir(
                o.out / name, resume=o.resume, overwrite=o.overwrite, settings=run_config, writer=False,
                remember=True,
            )  # fmt: skip
    except (OSError, ValueError, TypeError) as err:
        parser.error(str(err))


def parse_args(dataset: str, argv: Sequence[str] | None = None, description: str = "") -> ExampleArguments:
    """Parse an example script's command line (``argv`` None: ``sys.argv[1:]``).

    A bad option value is a usage error (``error: ...`` naming the option, what it expects and what it got;
    exit status 2), found before anything is loaded or written: the configuration fields, the device, the
    data folders, the synthetic sizes, ``--out`` (a file, unwritable, or holding a run without ``--resume`` or
    ``--overwrite``), ``--pretrained`` (missing; required by frozen batch norm) and ``--batch-size`` (1 with
    batch-norm layers that train).
    """
    parser = build_parser(dataset, description)
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"argument --threads: expected an int >= 1, got {args.threads}")
    if args.resume and args.overwrite:
        parser.error("argument --overwrite: not allowed with --resume (continue the run, or replace it)")
    try:
        sizes, ui_sizes = _synthetic_sizes(args.synthetic_size)
        losses = _parse_losses(args.losses)
    except ValueError as err:
        parser.error(str(err))
    options = RunOptions(
        out=Path(args.out), data_root=args.data_root, ui_root=args.ui_root,
        synthetic_seed=args.synthetic_seed, synthetic_sizes=sizes, synthetic_ui_sizes=ui_sizes,
        device=args.device, threads=args.threads, amp=args.amp, compile=args.compile, resume=args.resume,
        overwrite=args.overwrite, plots=not args.no_plots, progress=not args.quiet,
    )  # fmt: skip
    overrides = {dest: value for dest, value in vars(args).items() if "." in dest and value is not None}
    arguments = ExampleArguments(dataset, options, args.config, overrides, losses, not args.no_baseline)
    _check_arguments(parser, arguments)
    return arguments


def planned_runs(config: TrainingConfig, arguments: ExampleArguments) -> dict[str, TrainingConfig]:
    """The runs to make: ``--losses`` gives one; otherwise the full method, preceded in the demo mode by
    the margin head alone (``--head``, ArcFace by default), the baseline it is compared with (unless
    ``--no-baseline``). Runs are named by the head and the terms (``arcface``, ``cosface+id+mse``,
    ``full``)."""
    if arguments.losses is not None:
        return {"+".join((config.head.name, *arguments.losses)): config.with_losses(arguments.losses)}
    runs: dict[str, TrainingConfig] = {}
    if config.run.mode == "demo" and arguments.baseline:
        runs[config.head.name] = config.with_losses(())
    runs["full"] = config.with_losses(LOSS_TERMS)
    return runs
