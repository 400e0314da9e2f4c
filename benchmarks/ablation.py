"""Ablation on the synthetic TinyFace-layout benchmark: Table 4 rows and a sweep of tau, several seeds each.

    python benchmarks/ablation.py --estimate             # time a few steps, print the full ablation's runtime
    python benchmarks/ablation.py --quick                # tiny tree, 1 seed, 2 steps: checks the script works
    python benchmarks/ablation.py [--seeds 0 1 2] [--epochs 6] [--taus 0.5 1 1.645 1.96 2.576] [--out t.md]

Prints (and with ``--out`` writes) markdown tables to paste into docs/ablation.md: for each row, mean and
standard deviation over seeds of rank-1 (all probes and hard probes) and of the quality figures (Spearman
correlation with the ground-truth severity, ERC area at FMR 1e-2) of the learned index, ERS, MagFace norm and
CR-FIQA. CPU demo configuration (small_vlr_net at 32x32, ``cpu_demo_settings``) unless ``--epochs`` etc. are
given; the figures are synthetic and never comparable with the paper's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from recognizability.training import (
    TrainingSettings,
    build_model,
    cpu_demo_settings,
    evaluate_run,
    fit,
    load_test_sets,
    load_train_set,
    load_ui_set,
    resolve_benchmark,
)
from recognizability.training.cli import headline_figures
from recognizability.training.loop import prepare_batch
from recognizability.training.recipe import build_augmentation

ROWS: dict[str, tuple[str, ...]] = {
    "ArcFace": (),
    "+ID": ("id",),
    "+MSE": ("mse",),
    "+L1": ("l1",),
    "all": ("id", "mse", "l1"),
}
TAUS = (0.5, 1.0, 1.645, 1.96, 2.576)
QUICK_SIZES = {
    "train_identities": 12, "train_images": 72, "test_identities": 10, "probe_identities": 8,
    "probe_images": 16, "gallery_images": 20, "distractor_images": 16,
}  # fmt: skip
QUICK_UI = {"face_images": 20, "nonface_images": 4}
RECOGNITION = ("rank_1", "rank_1_hard")
QUALITY = ("learned_index", "ers", "magface_norm", "crfiqa")


def configurations(base: TrainingSettings, taus: list[float]) -> dict[str, TrainingSettings]:
    """Table 4 rows, then the tau sweep of the full method; a sweep value equal to the default tau is the
    "all" row itself and is not trained twice."""
    configs = {name: base.with_losses(losses) for name, losses in ROWS.items()}
    for tau in taus:
        if tau != base.tau:
            configs[f"all, tau={tau:g}"] = base.with_losses(ROWS["all"]).replace(tau=tau)
    return configs


def _steps_per_second(settings: TrainingSettings, num_classes: int, steps: int = 4) -> float:
    """Optimiser steps per second of one configuration on random images (after one warm-up step)."""
    model = build_model(settings, num_classes)
    optimizer = torch.optim.Adam(model.parameter_groups(settings))
    augmentation = build_augmentation(settings)
    size = settings.input_size
    images = torch.randint(0, 256, (settings.batch_size, 3, size, size), dtype=torch.uint8)
    labels = torch.randint(0, num_classes, (settings.batch_size,))
    model.ui_center.fit(torch.randn(64, settings.embedding_dim))
    began = 0.0
    for step in range(steps + 1):
        if step == 1:
            began = time.perf_counter()
        out = model(prepare_batch(images, settings, model.backbone, augmentation), labels)
        optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        optimizer.step()
    return steps / (time.perf_counter() - began)


def estimate(configs: dict[str, TrainingSettings], seeds: int, train_images: int, num_classes: int) -> str:
    """Runtime of the whole ablation from a few timed steps of each distinct set of loss terms."""
    rates: dict[tuple[str, ...], float] = {}
    total = 0.0
    lines = []
    for name, s in configs.items():
        if s.losses not in rates:
            rates[s.losses] = _steps_per_second(s, num_classes)
        steps = train_images // s.batch_size
        seconds = s.epochs * steps / rates[s.losses]
        total += seconds * seeds
        lines.append(f"| {name} | {rates[s.losses] * s.batch_size:.0f} | {seconds:.0f} |")
    header = ["| row | training images/s | training seconds per seed |", "|---|---|---|"]
    return "\n".join(
        [*header, *lines, "", f"estimated training time of the ablation: {total / 60:.1f} min "
         f"({len(configs)} rows x {seeds} seeds; evaluation, UI refresh and validation add a few %)"]
    )  # fmt: skip


def _cell(values: list[float]) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f} ± {spread:.3f}"


def tables(results: dict[str, list[dict[str, float]]]) -> str:
    """Two markdown tables: recognition (rank-1) and quality (Spearman, ERC area per score)."""
    out = ["| row | rank-1 | rank-1 (hard probes) |", "|---|---|---|"]
    for name, rows in results.items():
        cells = [_cell([r[k] for r in rows if k in r]) for k in RECOGNITION]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "| row | " + " | ".join(f"{q} Spearman | {q} ERC area" for q in QUALITY) + " |"]
    out.append("|---" * (1 + 2 * len(QUALITY)) + "|")
    for name, rows in results.items():
        cells = []
        for q in QUALITY:
            cells.append(_cell([r[f"{q}_spearman"] for r in rows if f"{q}_spearman" in r]))
            cells.append(_cell([r[f"{q}_erc_auc"] for r in rows if f"{q}_erc_auc" in r]))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _train_and_evaluate(
    settings: TrainingSettings, bench: Any, train: Any, ui: Any, tests: dict[str, Any]
) -> dict[str, float]:
    """Train one configuration with one seed and return its headline figures."""
    model = fit(settings, train, ui, progress=False, log=None).model
    report: dict[str, Any] = evaluate_run(model, settings, bench, tests, ui, torch.device("cpu"))
    return headline_figures(report)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, help="epochs per run (default: cpu_demo_settings)")
    p.add_argument("--lr-decay-epoch", type=int, help="1-based epoch of the x0.1 decay (default: demo's)")
    p.add_argument("--taus", type=float, nargs="+", default=list(TAUS))
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is much faster on a busy machine)")
    p.add_argument("--quick", action="store_true", help="tiny tree, 1 seed, 2 steps per run: a smoke test")
    p.add_argument("--estimate", action="store_true", help="time a few steps and print the runtime only")
    p.add_argument("--out", help="also write the markdown tables to this file")
    p.add_argument(
        "--jobs", type=int, default=1, help="runs trained side by side, one torch thread each (<= CPU count)"
    )
    args = p.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f"--jobs: expected an int >= 1, got {args.jobs}")
    if args.threads:
        torch.set_num_threads(args.threads)
    base = cpu_demo_settings("tinyface")
    if args.epochs:
        base = base.replace(epochs=args.epochs, lr_decay_epoch=args.lr_decay_epoch or args.epochs)
    elif args.lr_decay_epoch:
        base = base.replace(lr_decay_epoch=args.lr_decay_epoch)
    sizes: dict[str, int] = {}
    ui_sizes: dict[str, int] = {}
    seeds = list(args.seeds)
    if args.quick:
        sizes, ui_sizes, seeds = QUICK_SIZES, QUICK_UI, seeds[:1]
        base = base.replace(epochs=1, batch_size=16, max_steps_per_epoch=2, validation_max=16)
    configs = configurations(base, args.taus)
    bench = resolve_benchmark("tinyface", None, None, sizes=sizes, ui_sizes=ui_sizes)
    train = load_train_set(bench, base.input_size)
    num_classes = int(train.labels.max()) + 1
    machine = (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}"
    )
    if args.estimate:
        print(f"machine: {machine}; train {len(train)} images; epochs {base.epochs}, batch {base.batch_size}")
        print(estimate(configs, len(seeds), len(train), num_classes))
        return 0
    ui = load_ui_set(bench, base.input_size)
    tests = load_test_sets(bench, base.input_size)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    began = time.time()
    work = [(name, settings.replace(seed=seed)) for name, settings in configs.items() for seed in seeds]
    if args.jobs == 1:
        summaries = (_train_and_evaluate(s, bench, train, ui, tests) for _, s in work)
        for (name, s), summary in zip(work, summaries, strict=True):
            results[name].append(summary)
            print(f"[{time.time() - began:6.0f}s] {name} seed {s.seed}: {summary}", file=sys.stderr)
    else:
        # Independent runs in worker processes (one torch thread each): on a 2-core machine two single-thread
        # runs side by side beat one run on two threads. Results are gathered in the fixed order of ``work``.
        with concurrent.futures.ProcessPoolExecutor(
            args.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=torch.set_num_threads,
            initargs=(1,),
        ) as pool:  # fmt: skip
            futures = [pool.submit(_train_and_evaluate, s, bench, train, ui, tests) for _, s in work]
            for (name, s), future in zip(work, futures, strict=True):
                results[name].append(future.result())
                print(
                    f"[{time.time() - began:6.0f}s] {name} seed {s.seed}: {results[name][-1]}",
                    file=sys.stderr,
                )
    command = "python benchmarks/ablation.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([
        f"command: `{command.strip()}`",
        f"machine: {machine}; {time.time() - began:.0f} s",
        f"data: synthetic tinyface layout (seed 0{', tiny --quick sizes' if args.quick else ', small'}): "
        f"train {len(train)} images / {num_classes} identities, probes {len(tests['probe'])}; "
        f"seeds {seeds}; epochs {base.epochs}; default tau {base.tau:g}",
        "",
        tables(results),
    ])  # fmt: skip
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
