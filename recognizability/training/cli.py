"""Command line shared by ``examples/train_{tinyface,scface,survface}.py`` and the run they make.

Configuration choice (printed at the start of every run):

- a GPU or ``--data-root`` given: the paper's configuration (Table 5; ``--backbone`` iresnet50 by default, or
  mobilefacenet with its learning rates) at 112 x 112;
- neither: the declared CPU demo configuration (``small_vlr_net`` at 32 x 32 on the synthetic benchmark),
  which is not the paper's and says so. ``--config paper|demo`` forces either.

Without ``--losses`` the demo trains the baseline (ArcFace only) and the full method and prints the comparison
it measured; with ``--losses`` one run with exactly those terms.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from recognizability.data.synthetic import UISizes

from .data import load_test_sets, load_train_set, load_ui_set, load_verification_pairs, resolve_benchmark
from .distributed import init_distributed
from .evaluation import evaluate_run, write_report
from .recipe import TrainingResult, fit
from .settings import LOSS_TERMS, TrainingSettings, cpu_demo_settings, paper_settings

__all__ = ["ExampleRun", "build_parser", "comparison_table", "headline_figures", "settings_from_args"]


def build_parser(dataset: str, description: str = "") -> argparse.ArgumentParser:
    """The shared argument parser (every option documented in docs/training.md)."""
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
    p.add_argument("--backbone", help="backbone name (default: iresnet50 for paper, small_vlr_net for demo)")
    p.add_argument("--pretrained", help="checkpoint for the backbone (arcface_torch or AdaFace format)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast on CUDA")
    p.add_argument("--compile", action="store_true", help="torch.compile the training forward")
    p.add_argument(
        "--losses", help=f"comma-separated terms on top of ArcFace from {LOSS_TERMS}; 'none' = ArcFace"
    )
    p.add_argument("--no-baseline", action="store_true", help="demo: skip the ArcFace-only comparison run")
    p.add_argument("--tau", type=float, help="ID-loss confidence tau (Eq. 7)")
    p.add_argument("--ui-statistics", action="store_true", help="estimate mu_UI, sigma_UI (Eq. 6) each epoch")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr-decay-epoch", type=int, help="1-based epoch from which the learning rates are x0.1")
    p.add_argument("--max-steps", type=int, help="cap optimiser steps per epoch (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p  # fmt: skip


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
        raise SystemExit(f"--losses: expected terms from {LOSS_TERMS} (or 'none'/'all'), got {unknown}")
    return terms


def settings_from_args(dataset: str, args: argparse.Namespace, gpu: bool) -> TrainingSettings:
    """Table 5 (or the CPU demo) with the command line's overrides."""
    config = args.config
    if config == "auto":
        config = "paper" if (gpu or args.data_root is not None) else "demo"
    if config == "paper":
        settings = paper_settings(dataset, args.backbone or "iresnet50")
    else:
        settings = cpu_demo_settings(dataset)
        if args.backbone:
            settings = settings.replace(backbone=args.backbone)
    changes: dict[str, Any] = {"seed": args.seed}
    for name, value in (
        ("tau", args.tau),
        ("epochs", args.epochs),
        ("batch_size", args.batch_size),
        ("lr_decay_epoch", args.lr_decay_epoch),
        ("max_steps_per_epoch", args.max_steps),
        ("pretrained", args.pretrained),
    ):
        if value is not None:
            changes[name] = value
    if args.ui_statistics:
        changes["ui_statistics"] = True
    return settings.replace(**changes)  # fmt: skip


def headline_figures(report: dict[str, Any]) -> dict[str, float]:
    """The figures a comparison prints: rank-1 (all and hard probes) and, per quality score, the Spearman
    correlation with severity and the ERC area."""
    protocol = report["protocol"] or {}
    hard = report["protocol_hard"] or {}
    key = next((k for k in ("rank_1", "rank_1_average", "tpir20_at_fpir_0_3") if k in protocol), None)
    out: dict[str, float] = {}
    if key is not None:
        out["rank_1" if "rank" in key else key] = float(protocol[key])
        if key in hard:
            out["rank_1_hard" if "rank" in key else f"{key}_hard"] = float(hard[key])
    q = report["quality"]
    for name in ("learned_index", "ers", "magface_norm", "crfiqa"):
        if name in q:
            out[f"{name}_spearman"] = float(q[name].get("spearman_with_severity", float("nan")))
            auc = next((v for k, v in q[name].items() if k.startswith("erc_auc")), float("nan"))
            out[f"{name}_erc_auc"] = float(auc)
    return out


def _synthetic_sizes(items: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """``KEY=N`` options -> (dataset sizes, UI sizes); the UI set's field names route a key to the UI set."""
    ui_names = {f.name for f in dataclasses.fields(UISizes)}
    sizes: dict[str, int] = {}
    ui_sizes: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise SystemExit(f"--synthetic-size: expected KEY=N with N a non-negative int, got {item!r}")
        (ui_sizes if key in ui_names else sizes)[key.strip()] = int(value)
    return sizes, ui_sizes


def _cpu_is_busy() -> bool:
    """Whether other processes already keep every CPU busy (1-minute load average >= CPU count).

    Measured on a shared 2-core machine at load average 3.6-4.8: small_vlr_net trained at 21-79 images/s with
    2 torch threads and 295-305 with 1 (benchmarks/RESULTS.md, training section).
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not available on every platform
        return False
    return load >= (os.cpu_count() or 1)


def _timing_lines(timings: dict[str, float], reports: dict[str, dict[str, Any]]) -> str:
    """Wall time of each phase and the training throughput of each run (mean over its epochs)."""
    lines = [f"timing ({os.cpu_count()} CPUs visible, {torch.get_num_threads()} torch threads):"]
    lines += [f"  {phase:<28}{seconds:8.1f} s" for phase, seconds in timings.items()]
    for name, report in reports.items():
        history = report.get("training", {}).get("history", [])
        if history:
            rate = sum(row["images_per_second"] for row in history) / len(history)
            lines.append(f"  {name}: {len(history)} epochs, {rate:.0f} training images/s (mean over epochs)")
    return "\n".join(lines)


def comparison_table(reports: dict[str, dict[str, Any]]) -> str:
    """Plain-text table of the runs' headline figures (one column per run)."""
    summaries = {name: headline_figures(r) for name, r in reports.items()}
    keys: list[str] = []
    for s in sorted(summaries.values(), key=len, reverse=True):  # the run with most figures sets the order
        keys += [k for k in s if k not in keys]
    width = max([len(k) for k in keys] + [10])
    lines = [" " * width + "".join(f"{n:>16}" for n in summaries)]
    for k in keys:
        cells = "".join(f"{summaries[n].get(k, float('nan')):>16.4f}" for n in summaries)
        lines.append(f"{k:<{width}}{cells}")
    return "\n".join(lines)


class ExampleRun:
    """One run of an example script, in the order of the paper's recipe (see ``examples/train_*.py``).

    Construction parses ``argv``, joins the process group under ``torchrun``, picks the configuration (Table
    5, or the declared CPU demo), finds or generates the data, and decodes the training, UI and test images.

    Args:
        dataset: "tinyface", "scface" or "survface".
        argv: command-line arguments (None: ``sys.argv[1:]``).
        description: the ``--help`` text.

    Attributes:
        args, context (process and device), settings (of the full method), benchmark (roots and provenance),
        train, ui, tests, verification (decoded images), reports (run name -> report), timings (phase -> s).
    """

    def __init__(self, dataset: str, argv: Sequence[str] | None = None, description: str = "") -> None:
        self.dataset = dataset
        self.args = args = build_parser(dataset, description).parse_args(argv)
        self.context = context = init_distributed(args.device)
        self.say = print if context.is_main else (lambda *a, **k: None)
        if args.threads is not None:
            if args.threads < 1:
                raise SystemExit(f"--threads: expected an int >= 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        elif context.device.type == "cpu" and _cpu_is_busy():
            torch.set_num_threads(1)
            self.say(f"the CPU is busy (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs): "
                     "using 1 torch thread (--threads N to choose)")  # fmt: skip
        self.settings = settings_from_args(dataset, args, context.device.type == "cuda")
        self.timings: dict[str, float] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.out = Path(args.out)
        self._began = time.perf_counter()
        sizes, ui_sizes = _synthetic_sizes(args.synthetic_size)
        self.benchmark = resolve_benchmark(
            dataset, args.data_root, args.ui_root, seed=args.synthetic_seed, sizes=sizes, ui_sizes=ui_sizes
        )
        self.timings["data (generate or find)"] = time.perf_counter() - self._began
        self.say(f"configuration: {self.settings.description}")
        self.say(f"data: {self.benchmark.provenance} {dataset} layout at {self.benchmark.root}; "
                 f"UI set {self.benchmark.ui_root}")  # fmt: skip
        tick = time.perf_counter()
        size = self.settings.input_size
        self.train = load_train_set(self.benchmark, size)
        self.ui = load_ui_set(self.benchmark, size)
        self.tests = load_test_sets(self.benchmark, size)
        self.verification = load_verification_pairs(self.benchmark, size)
        self.timings["decode images"] = time.perf_counter() - tick
        self.say(f"train {len(self.train)} images / {int(self.train.labels.max()) + 1} identities; "
                 f"UI {len(self.ui)}; " + ", ".join(f"{k} {len(v)}" for k, v in self.tests.items())
                 + ("" if self.verification is None
                    else f", verification pairs {len(self.verification.first)}"))  # fmt: skip

    def configurations(self) -> dict[str, TrainingSettings]:
        """The runs to make: ``--losses`` gives one; otherwise the full method, preceded in the CPU demo by
        the ArcFace-only baseline it is compared with (unless ``--no-baseline``)."""
        losses = _parse_losses(self.args.losses)
        if losses is not None:
            return {"+".join(("arcface", *losses)): self.settings.with_losses(losses)}
        runs: dict[str, TrainingSettings] = {}
        if self.settings.description.startswith("CPU demo") and not self.args.no_baseline:
            runs["arcface"] = self.settings.with_losses(())
        runs["full"] = self.settings.with_losses(LOSS_TERMS)
        return runs

    def fit(self, name: str, settings: TrainingSettings) -> TrainingResult:
        """Train one configuration (:func:`~recognizability.training.fit`): checkpoints in ``OUT/<name>``."""
        self.say(f"--- training {name} (losses: {', '.join(settings.losses) or 'ArcFace only'})")
        tick = time.perf_counter()
        args = self.args
        result = fit(
            settings, self.train, self.ui, context=self.context, out_dir=self.out / name, resume=args.resume,
            amp=args.amp, compile_model=args.compile, progress=not args.quiet, log=self.say,
        )  # fmt: skip
        self.timings[f"train {name}"] = time.perf_counter() - tick
        return result

    def evaluate(self, name: str, result: TrainingResult) -> dict[str, Any] | None:
        """The dataset's protocol and the quality comparison; writes ``OUT/<name>/report.json`` and the plots.
        Returns the report (None on ranks other than 0)."""
        if not self.context.is_main:
            return None
        tick = time.perf_counter()
        training = {
            "history": result.history, "seconds": result.seconds, "resumed_from": result.resumed_from,
            "device": str(self.context.device), "world_size": self.context.world_size,
            "threads": torch.get_num_threads(),
        }  # fmt: skip
        report = evaluate_run(
            result.model, result.settings, self.benchmark, self.tests, self.ui, self.context.device,
            amp=self.args.amp, training=training, verification=self.verification,
        )  # fmt: skip
        self.timings[f"evaluate {name}"] = time.perf_counter() - tick
        write_report(report, self.out / name / "report.json")
        self.reports[name] = report
        if not self.args.no_plots:
            try:
                from .plots import plot_report

                plot_report(report, self.out / name)
            except ImportError as error:
                self.say(f"plots skipped: {error}")
        return report

    def finish(self) -> dict[str, dict[str, Any]]:
        """Print the comparison of the runs and the time of each phase, write ``OUT/comparison.json``, and
        leave the process group. Returns ``{run name: report}``."""
        if self.context.is_main:
            self.say(f"\nmeasured on {self.benchmark.provenance} data ({self.settings.description}):")
            self.say(comparison_table(self.reports))
            self.say("rank_1: protocol rank-1 (hard: probes marked hard); *_spearman: with severity (more "
                     "negative = better); *_erc_auc: error-versus-reject area (lower = better)")  # fmt: skip
            self.timings["total"] = time.perf_counter() - self._began
            self.say(_timing_lines(self.timings, self.reports))
            (self.out / "comparison.json").write_text(json.dumps(
                {"runs": {k: headline_figures(r) for k, r in self.reports.items()}, "seconds": self.timings},
                indent=2,
            ))  # fmt: skip
        if self.context.is_distributed:
            torch.distributed.destroy_process_group()
        return self.reports
