"""Ablation in the paper's setting on the synthetic benchmark: fine-tune a pretrained backbone, paired by seed

    python benchmarks/ablation.py --quick --out /tmp/ablation_quick        # a minute: checks the whole script
    python benchmarks/ablation.py --jobs 2 --out benchmarks/results        # the ablation of docs/ablation.md
    python benchmarks/ablation.py --tables benchmarks/results/ablation.json  # the markdown tables only

Protocol (docs/ablation.md, written before the runs): every row fine-tunes the shipped small_vlr_net
pretrained on the synthetic hr set (pretrained="synthetic-hr") on the synthetic TinyFace tree of the evidence
size, with the training step of examples/train_tinyface.py itself (its train function is imported and called,
so the ablation trains exactly what the example shows). Within a seed, every row starts from the same backbone
and heads and sees the same batches and augmentation draws; rows differ only in their loss terms (and tau, or
the margin head). Each row is compared with its head alone by the mean paired difference over seeds and its 95
% Student-t confidence interval.

Per-seed records go to ``OUT/ablation.json`` (one per row and seed, written as runs finish, so an interrupted
ablation keeps what it measured); the tables to ``OUT/ablation.md``. The figures are synthetic.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import math
import multiprocessing
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from recognizability.data.synthetic import GENERATOR_VERSION, sizes_for
from recognizability.functional import DEFAULT_TAU
from recognizability.nn import available_heads
from recognizability.training import RunOptions, Session, TrainingConfig
from recognizability.training.config import LOSS_TERMS
from recognizability.training.config.presets import demo_config
from recognizability.training.report.evidence import paired_t_interval

REPO = Path(__file__).resolve().parents[1]
DATASET = "tinyface"


@dataclass(frozen=True)
class Row:
    """One row: the margin head, the loss terms on top of it, tau (None: the default), and the row it is
    compared with (the same head alone)."""

    name: str
    terms: tuple[str, ...]
    tau: float | None = None
    head: str = "arcface"
    baseline: str = "ArcFace"
    #: Other LossConfig fields the row sets (the gradient-path readings: detach_regression_input,
    #: index_gradient).
    loss: tuple[tuple[str, bool], ...] = ()


ROWS: tuple[Row, ...] = (
    Row("ArcFace", ()),
    Row("+ID", ("id",)),
    Row("+MSE", ("mse",)),
    Row("+L1", ("l1",)),
    Row("all", LOSS_TERMS),
    *(Row(f"all, tau={tau:g}", LOSS_TERMS, tau) for tau in (0.5, 1.0, 1.645, 2.576) if tau != DEFAULT_TAU),
    Row("AdaFace", (), head="adaface", baseline="AdaFace"),
    Row("AdaFace + all", LOSS_TERMS, head="adaface", baseline="AdaFace"),
    # The placebo: the regression module reads a detached feature map and only L_L1 is on, so nothing it
    # learns reaches the backbone or the head; it can move rank-1 only through the random stream (its dropout
    # draws). Every other row is read against it.
    Row("placebo (L1, detached)", ("l1",), loss=(("detach_regression_input", True),)),
    Row("all, regression detached", LOSS_TERMS, loss=(("detach_regression_input", True),)),
    Row("all, index gradient", LOSS_TERMS, loss=(("index_gradient", True),)),
)
ROW_NAMES = tuple(r.name for r in ROWS)
#: The rows the CPU demo prints beside its one-seed comparison (the full method, the placebo that measures the
#: lab's noise, and the quality head that costs recognition nothing).
SUMMARY_ROWS = ("all", "placebo (L1, detached)", "all, regression detached", "AdaFace + all")
HEAD_TITLES = {
    "arcface": "ArcFace", "cosface": "CosFace", "adaface": "AdaFace", "curricularface": "CurricularFace",
    "magface": "MagFace",
}  # fmt: skip
BASELINES = {r.name: r.baseline for r in ROWS}
SEEDS = (0, 1, 2, 3, 4)
#: The recognition figures compared row against baseline, paired by seed.
RECOGNITION = ("rank_1", "rank_1_hard")
QUALITY_SCORES = ("learned_index", "ers", "magface_norm", "crfiqa_trained", "crfiqa")
#: A tree small enough for a smoke run of the whole script.
QUICK_SIZES = {
    "train_identities": 12, "train_images": 72, "test_identities": 10, "probe_identities": 8,
    "probe_images": 16, "gallery_images": 20, "distractor_images": 16,
}  # fmt: skip


def load_example_train() -> Callable[..., Any]:
    """The ``train`` function of ``examples/train_tinyface.py`` (the example's own training step)."""
    path = REPO / "examples" / "train_tinyface.py"
    spec = importlib.util.spec_from_file_location("train_tinyface_example", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"expected the example script at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train: Callable[..., Any] = module.train
    return train


def base_config(quick: bool) -> TrainingConfig:
    """The CPU demo configuration (fine-tuning the pretrained backbone), shortened for ``--quick``."""
    config = demo_config(DATASET)
    if quick:
        config = config.replace(epochs=1, batch_size=16, max_steps_per_epoch=2, validation_max=16)
    return config


def row_config(base: TrainingConfig, row: Row, seed: int) -> TrainingConfig:
    config = base.with_losses(row.terms).replace(seed=seed, name=row.head, **dict(row.loss))
    return config if row.tau is None else config.replace(tau=row.tau)


_STATE: dict[str, Any] = {}


def _worker_setup(options: RunOptions, quick: bool) -> None:
    """Per process: one torch thread, the session, the decoded data and the example's train function."""
    torch.set_num_threads(1)
    session = Session(options)
    _STATE["session"] = session
    _STATE["data"] = session.load_data(DATASET, base_config(quick).model.input_size)
    _STATE["train"] = load_example_train()


def run_one(row: Row, seed: int, quick: bool) -> dict[str, Any]:
    """Train one row with one seed, evaluate it; the per-seed record of ``ablation.json``."""
    session, data, train = _STATE["session"], _STATE["data"], _STATE["train"]
    config = row_config(base_config(quick), row, seed)
    began = time.perf_counter()
    folder = re.sub(r"[^A-Za-z0-9+=.]+", "_", row.name).strip("_")
    result = train(f"{folder}_seed{seed}", config, data, session)
    report = session.evaluate(result, data)
    figures: dict[str, Any] = dict(report.headline_figures())
    for name, quality in report.quality.items():
        for fmr, area in quality.erc_auc.items():
            figures[f"{name}_erc_auc_fmr{fmr:g}"] = area
        for fmr, pauc in quality.edc_pauc.items():
            figures[f"{name}_edc_pauc_fmr{fmr:g}"] = pauc
    for prefix, cluster in (("fig1", report.ui_cluster), ("fig1_start", report.ui_cluster_pretrained)):
        if cluster is not None:
            scalars = {k: v for k, v in cluster.to_dict().items() if not isinstance(v, (tuple, list))}
            figures.update({f"{prefix}_{k}": v for k, v in scalars.items()})
    return {
        "row": row.name,
        "seed": seed,
        "terms": list(row.terms),
        "head": row.head,
        "baseline": row.baseline,
        "tau": config.loss.tau,
        "loss": dict(row.loss),
        "seconds": time.perf_counter() - began,
        **figures,
    }


def paired(records: list[dict[str, Any]], row: str, key: str) -> list[float]:
    """Per-seed differences ``row - its baseline`` of ``key`` over the seeds both have."""
    baseline = _baseline_of(records, row)
    by_seed = {r["seed"]: r for r in records if r["row"] == baseline and _finite(r.get(key))}
    return [r[key] - by_seed[r["seed"]][key] for r in records
            if r["row"] == row and r["seed"] in by_seed and _finite(r.get(key))]  # fmt: skip


def _baseline_of(records: list[dict[str, Any]], row: str) -> str:
    """The row ``row`` is compared with: the named rows' own, else what its records say (``--head`` rows)."""
    if row in BASELINES:
        return BASELINES[row]
    return str(next(r["baseline"] for r in records if r["row"] == row))


def _row_order(records: list[dict[str, Any]]) -> list[str]:
    """The named rows in their order, then any other rows (``--head``) in the order they were measured."""
    present = {r["row"] for r in records}
    extra = [name for name in dict.fromkeys(r["row"] for r in records) if name not in ROW_NAMES]
    return [name for name in ROW_NAMES if name in present] + extra


def with_head(head: str) -> tuple[Row, ...]:
    """The ArcFace rows again with another margin head (``--head``), each compared with that head alone."""
    alone = HEAD_TITLES[head]
    if head == "arcface":
        return tuple(r for r in ROWS if r.head == "arcface")

    def name(row: Row) -> str:
        if row.name == "ArcFace":
            return alone
        return f"{alone} {row.name}" if row.name.startswith("+") else f"{alone} + {row.name}"

    return tuple(
        Row(name(r), r.terms, r.tau, head=head, baseline=alone, loss=r.loss)
        for r in ROWS
        if r.head == "arcface"
    )


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def _difference(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    mean, low, high = paired_t_interval(values)
    verdict = "effect" if low > 0 or high < 0 else "no effect resolved"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}] ({verdict})"


def _values(records: list[dict[str, Any]], row: str, key: str) -> list[float]:
    return [r[key] for r in records if r["row"] == row and _finite(r.get(key))]


def tables(records: list[dict[str, Any]]) -> str:
    """The markdown tables of docs/ablation.md from the per-seed records."""
    rows = _row_order(records)
    seeds = sorted({r["seed"] for r in records})
    out = [
        f"Seeds {seeds}; mean ± sd over seeds; paired difference against the same head alone (ArcFace, or "
        "AdaFace for the AdaFace rows) with its 95 % t interval.",
        "",
        "| row | rank-1 | paired difference | rank-1 (hard probes) | paired difference |",
        "|---|---|---|---|---|",
    ]
    for name in rows:
        cells = []
        for key in RECOGNITION:
            difference = (
                "—" if name == _baseline_of(records, name) else _difference(paired(records, name, key))
            )
            cells += [_mean_sd(_values(records, name, key)), difference]
        out.append(f"| {name} | " + " | ".join(cells) + " |")

    keys = {"spearman": "Spearman", "erc_auc_fmr0.001": "ERC area @1e-3", "erc_auc_fmr0.01": "ERC area @1e-2",
            "edc_pauc_fmr0.001": "EDC pAUC @1e-3"}  # fmt: skip
    out += ["", "| row | score | " + " | ".join(keys.values()) + " |", "|---|---|" + "---|" * len(keys)]
    for name in rows:
        for score in QUALITY_SCORES:
            cells = [_mean_sd(_values(records, name, f"{score}_{k}")) for k in keys]
            if any(c != "n/a" for c in cells):
                out.append(f"| {name} | {score} | " + " | ".join(cells) + " |")

    fig1 = {"spearman_with_severity": "Spearman(d_UI, severity)", "hard_share_nearest": "hard share, 10 % "
            "nearest u", "bimodality": "bimodality"}  # fmt: skip
    out += ["", "| backbone | " + " | ".join(fig1.values()) + " |", "|---|" + "---|" * len(fig1)]
    start = [_mean_sd(_values(records, rows[0], f"fig1_start_{k}")) for k in fig1]
    out.append("| pretrained (start of fine-tuning) | " + " | ".join(start) + " |")
    for name in rows:
        out.append(
            f"| {name} | " + " | ".join(_mean_sd(_values(records, name, f"fig1_{k}")) for k in fig1) + " |"
        )
    return "\n".join(out)


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """What the CPU demo prints of the ablation: for the compared rows, the mean paired difference against the
    head alone and its 95 % interval, for rank-1 on all and on hard probes."""
    records = results["records"]
    rows = []
    for row in SUMMARY_ROWS:
        entry: dict[str, Any] = {"row": row}
        for key in RECOGNITION:
            differences = paired(records, row, key)
            if len(differences) >= 2:
                entry[key] = [round(x, 4) for x in paired_t_interval(differences)]
        if len(entry) > 1:
            rows.append(entry)
    seeds = sorted({r["seed"] for r in records})
    tree = results.get("tree", "evidence")
    version = results.get("generator_version")
    faces = "" if version is None else f", generator version {version}"
    return {
        "data": f"{len(seeds)} seeds on the synthetic TinyFace '{tree}' tree{faces}",
        "seeds": seeds,
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--out", type=Path, help="folder for ablation.json and ablation.md")
    p.add_argument("--tables", type=Path, help="print the tables of an existing ablation.json and stop")
    p.add_argument(
        "--summary",
        type=Path,
        help="with --tables: also write the summary the CPU demo prints (package data)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--rows", nargs="+", help="row names (default: all)")
    p.add_argument(
        "--head",
        choices=available_heads(),
        help="run the ArcFace rows with this margin head instead (Table 4)",
    )
    p.add_argument("--jobs", type=int, default=1, help="runs trained side by side, one torch thread each")
    p.add_argument("--quick", action="store_true", help="tiny tree, 1 seed, 2 steps: checks the script")
    p.add_argument("--work", type=Path, help="folder for the runs' checkpoints (default: OUT/runs)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the records already in OUT/ablation.json; run only the rest",
    )
    args = p.parse_args(argv)
    if args.tables is not None:
        results = json.loads(args.tables.read_text())
        print(tables(results["records"]))
        if args.summary is not None:
            args.summary.write_text(json.dumps(summary(results), indent=1) + "\n")
        return 0
    if args.out is None:
        p.error("--out is required unless --tables is given")
    if args.jobs < 1:
        p.error(f"--jobs: expected an int >= 1, got {args.jobs}")
    candidates = ROWS if args.head is None else with_head(args.head)
    rows = [r for r in candidates if args.rows is None or r.name in args.rows]
    seeds = args.seeds[:1] if args.quick else args.seeds
    sizes = QUICK_SIZES if args.quick else {k: v for k, v in vars(sizes_for(DATASET, "evidence")).items()}
    options = RunOptions(out=args.work or args.out / "runs", synthetic_sizes=sizes, threads=1, plots=False,
                         progress=False, overwrite=True)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "ablation.json"
    machine = f"{platform.machine()}, {args.jobs} job(s) of 1 torch thread, torch {torch.__version__}"
    header = {
        "command": " ".join(["python benchmarks/ablation.py", *(sys.argv[1:] if argv is None else argv)]),
        "generator_version": GENERATOR_VERSION, "machine": machine, "synthetic": True,
        "dataset": f"synthetic {DATASET} layout, sizes {sizes}",
        "tree": "quick" if args.quick else "evidence",
        "config": base_config(args.quick).to_dict(), "seeds": seeds, "rows": [r.name for r in rows],
    }  # fmt: skip
    records: list[dict[str, Any]] = []
    if results.exists() and not args.resume:
        p.error(f"--out {args.out} already holds ablation.json: pass --resume to add to it, or another --out")
    if args.resume and results.exists():
        earlier = json.loads(results.read_text())
        if earlier.get("tree") != header["tree"]:
            p.error(
                f"--resume: {results} holds the {earlier.get('tree')!r} tree, this run the {header['tree']!r}"
            )
        records = earlier["records"]
        header["seeds"] = sorted({*earlier.get("seeds", []), *seeds})
        header["rows"] = list(dict.fromkeys([*earlier.get("rows", []), *header["rows"]]))
    done = {(r["row"], r["seed"]) for r in records}
    began = time.time()

    def save() -> None:
        payload = {**header, "seconds": time.time() - began, "records": records}
        results.write_text(json.dumps(payload, indent=1) + "\n")

    work = [(row, seed) for seed in seeds for row in rows if (row.name, seed) not in done]
    with concurrent.futures.ProcessPoolExecutor(
        args.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_setup,
        initargs=(options, args.quick),
    ) as pool:  # fmt: skip
        futures = {pool.submit(run_one, row, seed, args.quick): (row, seed) for row, seed in work}
        for future in concurrent.futures.as_completed(futures):
            record = future.result()
            records.append(record)
            order = [*ROW_NAMES, *(r.name for r in rows)]
            records.sort(key=lambda r: (r["seed"], order.index(r["row"])))
            save()
            print(f"[{time.time() - began:6.0f}s] {record['row']} seed {record['seed']}: rank-1 "
                  f"{record.get('rank_1', math.nan):.3f}", file=sys.stderr, flush=True)  # fmt: skip
    text = tables(records)
    (args.out / "ablation.md").write_text(f"command: `{header['command']}`\n\nmachine: {machine}; "
                                          f"{time.time() - began:.0f} s\n\n{text}\n")  # fmt: skip
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
