"""Ablation on the synthetic TinyFace-layout benchmark: Table 4 rows and a sweep of tau, several seeds each.

    python benchmarks/ablation.py [--seeds 0 1 2] [--epochs 6] [--taus 0.5 1 1.645 1.96 2.576]

Prints, for each row, mean and standard deviation over seeds of rank-1 (all probes and hard probes) and of the
quality figures of the learned index (Spearman with severity, ERC area), plus ERS, MagFace norm and CR-FIQA.
CPU demo configuration (small_vlr_net at 32x32); the figures are synthetic, never comparable with the paper's.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import torch

from recognizability.training import (
    cpu_demo_settings,
    evaluate_run,
    fit,
    load_test_sets,
    load_train_set,
    load_ui_set,
    resolve_benchmark,
)
from recognizability.training.cli import _summary

ROWS = {"ArcFace": (), "+ID": ("id",), "+MSE": ("mse",), "+L1": ("l1",), "all": ("id", "mse", "l1")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--taus", type=float, nargs="+", default=[0.5, 1.0, 1.645, 1.96, 2.576])
    args = p.parse_args()
    bench = resolve_benchmark("tinyface", None, None)
    base = cpu_demo_settings("tinyface").replace(epochs=args.epochs)
    train = load_train_set(bench, base.input_size)
    ui = load_ui_set(bench, base.input_size)
    tests = load_test_sets(bench, base.input_size)
    configs = {name: base.with_losses(losses) for name, losses in ROWS.items()}
    for tau in args.taus:
        configs[f"all, tau={tau:g}"] = base.with_losses(("id", "mse", "l1")).replace(tau=tau)
    results: dict[str, list[dict[str, float]]] = {}
    began = time.time()
    for name, settings in configs.items():
        for seed in args.seeds:
            s = settings.replace(seed=seed)
            model = fit(s, train, ui, progress=False, log=None).model
            report = evaluate_run(model, s, bench, tests, ui, torch.device("cpu"))
            results.setdefault(name, []).append(_summary(report))
            print(f"[{time.time() - began:6.0f}s] {name} seed {seed}: {results[name][-1]}", file=sys.stderr)
    keys = [
        "rank_1",
        "rank_1_hard",
        "learned_index_spearman",
        "learned_index_erc_auc",
        "ers_spearman",
        "ers_erc_auc",
        "magface_norm_spearman",
        "magface_norm_erc_auc",
        "crfiqa_spearman",
        "crfiqa_erc_auc",
    ]
    print(
        f"command: python benchmarks/ablation.py --seeds {' '.join(map(str, args.seeds))} --epochs {args.epochs}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; data: synthetic tinyface layout (seed 0, small); {len(args.seeds)} seeds"
    )
    print("| row | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, rows in results.items():
        cells = []
        for k in keys:
            values = [r[k] for r in rows if k in r]
            mean = statistics.fmean(values) if values else float("nan")
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{mean:.3f} ± {spread:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
