"""GPU check: every CUDA path of the library run once, and the speed figures it promises, in one command.

On a machine with one CUDA GPU (sized for an H100/H200 in about 8 minutes)::

    python benchmarks/gpu_check.py --bundle          # writes $OUT (or gpu_check_out/)
    python benchmarks/gpu_check.py --only metrics --only bench_head --out again/   # rerun some steps
    python benchmarks/gpu_check.py --dry-run         # every step on the CPU at tiny sizes (about a minute)

Steps, in this order (``--only`` / ``--skip`` pick some):

* ``cuda_tests``: the CUDA tests (``pytest -k cuda``: the ``cuda`` marker or "cuda" in the test's name);
* ``bench_head``: ``benchmarks/bench_head.py`` on CUDA, B in {64, 512}, C from 1e4 to 4e6;
* ``train_step``: ``benchmarks/bench_train_step.py``, iresnet50 and mobilefacenet at 112 x 112, bf16 autocast,
  channels_last, ArcFace alone against the full method, eager, B = 64 (Table 5) and 256;
* ``metrics``: ``benchmarks/bench_metrics.py`` on CUDA, the TinyFace-scale and SurvFace-scale cases, with the
  bare matrix product of the TinyFace case as a reference;
* ``example_data``: the synthetic TinyFace tree at TinyFace's training and test sizes (fewer distractors:
  ``--tinyface-distractors``), rendered by every CPU;
* ``example_backbone``: an iresnet50 with batch-norm statistics calibrated on random batches (no pretrained
  weights exist here, and Table 5's frozen batch norm overflows on a randomly initialised IResNet-50);
* ``train_tinyface``: ``examples/train_tinyface.py --backbone iresnet50 --data-root <that tree> --pretrained
  <that backbone>``, one epoch of ``--max-steps`` steps of Table 5's batch (64), then its evaluation (the
  TinyFace protocol and the quality comparison);
* ``tests``: the rest of the test suite (``-k "not cuda"``; with pytest-xdist when installed);
* ``train_step_compiled``: the training-step benchmark again, the whole model under ``torch.compile``
  (inductor), B = 64.

Each step runs in its own process group with its own time limit (and the whole run within ``--budget``
seconds), so one hung step cannot eat the others' time; a step that fails or times out is recorded and the
next one runs. Each step's output goes to ``logs/<step>.log``; ``summary.json`` and ``summary.md`` (the table
printed at the end, and the promises checked) are rewritten after every step. With ``--bundle`` the logs are
packed into ``logs.tar.gz`` instead, rewritten after every step (3 files in all, for machines that send back
only a few files).

The dry run runs every step on the CPU (``CUDA_VISIBLE_DEVICES`` empty) at tiny sizes, so a typo never costs
GPU time; its ``tests`` step only collects the suite. Its figures check the script, they are not evidence.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUTPUT_NAMES = ("summary.json", "summary.md", "logs", "logs.tar.gz", "logs.tar.gz.partial")  # all it writes
TINYFACE_REAL_DISTRACTORS = 153428  # datasets.md: Gallery_Distractor
#: The environment variable set in every step's process; tests/benchmarks skips the dry run inside a check.
INSIDE_CHECK = "RECOGNIZABILITY_GPU_CHECK"

#: The speed the library promises on a GPU (benchmarks/RESULTS.md, "GPU check"): name -> (what, threshold on
#: the measured ratio; None: reported, no number promised).
PROMISES: dict[str, tuple[str, float | None]] = {
    "head": ("combined head (index, diversion, regression) / ArcFace alone, B=512, C=1e5", 1.05),
    "train_step": ("full training step / ArcFace-only step, iresnet50, 112x112, bf16, B=64", 1.10),
    "train_step_compiled": ("the same with torch.compile", 1.10),
    "tinyface_eval": ("TinyFace-scale evaluation / its probe x gallery matrix product", None),
}


@dataclass
class Context:
    dry_run: bool
    out: Path
    logs: Path
    work: Path
    python: str
    tinyface_distractors: int
    max_steps: int
    test_workers: int


@dataclass
class Step:
    name: str
    budget_s: float  # on the GPU
    dry_budget_s: float
    command: Callable[[Context], list[str]]
    headline: Callable[[Context], dict[str, Any]]


def _py(ctx: Context, *args: str) -> list[str]:
    return [ctx.python, *args]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


# --- pytest -------------------------------------------------------------------------------------------------

_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)")


def _pytest_counts(log: Path) -> dict[str, Any]:
    """Counts of the last pytest summary line of a log (``5 passed, 2 skipped in 3.1s``), and how many tests
    were collected when the log says so."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    ends = [line for line in text.splitlines() if re.search(r"\bin [\d.]+s\b", line)]
    counts: dict[str, Any] = {}
    collected = re.findall(r"(\d+)(?:/\d+)? tests? collected", text)
    if collected:
        counts["collected"] = int(collected[-1])
    for number, word in _PYTEST_COUNTS.findall(ends[-1] if ends else ""):
        counts[word.rstrip("s") if word.startswith(("error", "warning")) else word] = int(number)
    return counts


def _per_test_limit() -> list[str]:
    """``--timeout=120`` where pytest-timeout is installed: a hung test fails alone, the others still run."""
    return ["--timeout=120"] if importlib.util.find_spec("pytest_timeout") is not None else []


def _cuda_tests_command(ctx: Context) -> list[str]:
    command = _py(ctx, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "-k", "cuda", "--durations=10")
    return command + _per_test_limit()


def _tests_command(ctx: Context) -> list[str]:
    if ctx.dry_run:  # the whole suite on a CPU takes minutes: a dry run only checks that it collects
        return _py(ctx, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only")
    command = _py(
        ctx, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "-k", "not cuda", "--durations=15"
    )
    if ctx.test_workers > 0:
        command += ["-n", str(ctx.test_workers)]
    return command + _per_test_limit()


def _tests_headline(name: str) -> Callable[[Context], dict[str, Any]]:
    return lambda ctx: _pytest_counts(ctx.logs / f"{name}.log")


# --- bench_head ---------------------------------------------------------------------------------------------

HEAD_CONFIGS = ["64x10000", "64x100000", "512x10000", "512x100000", "512x1000000", "512x4000000"]
HEAD_DRY_CONFIGS = ["8x100", "16x200"]


def _head_promise_config(ctx: Context) -> tuple[int, int]:
    return (16, 200) if ctx.dry_run else (512, 100_000)


def _head_command(ctx: Context) -> list[str]:
    if ctx.dry_run:
        sizes, options = (
            HEAD_DRY_CONFIGS,
            ["--device", "cpu", "--repeats", "2", "--warmup", "1", "--budget", "1"],
        )
    else:
        sizes, options = (
            HEAD_CONFIGS,
            ["--device", "cuda", "--repeats", "25", "--warmup", "3", "--budget", "3"],
        )
    configs = [item for size in sizes for item in ("--config", size)]
    return _py(
        ctx, "benchmarks/bench_head.py", *options, *configs, "--json", str(ctx.logs / "bench_head.json")
    )


def _head_headline(ctx: Context) -> dict[str, Any]:
    data = _read_json(ctx.logs / "bench_head.json") or {"rows": []}
    out: dict[str, Any] = {"rows": len(data["rows"])}
    batch, classes = _head_promise_config(ctx)
    for row in data["rows"]:
        if (row["batch"], row["classes"]) == (batch, classes):
            out[f"time_ratio_B{batch}_C{classes}"] = row["time_b_ms"] / row["time_a_ms"]
            out[f"peak_ratio_B{batch}_C{classes}"] = row["peak_b_mib"] / row["peak_a_mib"]
    if data["rows"]:
        out["largest_C"] = max(row["classes"] for row in data["rows"])
    return out


# --- training step ------------------------------------------------------------------------------------------


# The dry run's backbones: iresnet50 costs about a second per image and step on a CPU, and is exercised by the
# example's dry run; the compiled dry run traces the small demo backbone (inductor would compile for minutes).
DRY_TRAIN_BACKBONE = "mobilefacenet"
DRY_COMPILED_BACKBONE = "small_vlr_net"


def _train_step_command(compiled: bool) -> Callable[[Context], list[str]]:
    def command(ctx: Context) -> list[str]:
        name = "train_step_compiled" if compiled else "train_step"
        args = ["benchmarks/bench_train_step.py", "--json", str(ctx.logs / f"{name}.json")]
        if ctx.dry_run:
            args += ["--device", "cpu", "--batch", "2", "--repeats", "1", "--steps", "1", "--warmup", "0"]
            args += [
                "--classes",
                "50",
                "--backbone",
                DRY_COMPILED_BACKBONE if compiled else DRY_TRAIN_BACKBONE,
            ]
            args += ["--compile", "--compile-backend", "eager"] if compiled else []
        else:
            args += ["--device", "cuda", "--backbone", "iresnet50", "--backbone", "mobilefacenet"]
            args += ["--batch", "64", "--compile"] if compiled else ["--batch", "64", "--batch", "256"]
            args += ["--repeats", "10"]
        return _py(ctx, *args)

    return command


def _train_step_headline(compiled: bool) -> Callable[[Context], dict[str, Any]]:
    def headline(ctx: Context) -> dict[str, Any]:
        name = "train_step_compiled" if compiled else "train_step"
        data = _read_json(ctx.logs / f"{name}.json") or {"rows": []}
        out: dict[str, Any] = {}
        for row in data["rows"]:
            key = f"{row['backbone']}_B{row['batch']}"
            out[f"{key}_ratio"] = row["ratio_full_over_arcface"]
            out[f"{key}_images_per_s"] = row["images_per_s"]["full"]
            if row["peak_step_mib"]["full"] is not None:
                out[f"{key}_peak_step_mib"] = row["peak_step_mib"]["full"]
        return out

    return headline


# --- metrics ------------------------------------------------------------------------------------------------


def _metrics_command(ctx: Context) -> list[str]:
    args = ["benchmarks/bench_metrics.py", "--matmul-reference", "--json", str(ctx.logs / "metrics.json")]
    if ctx.dry_run:
        args += ["--device", "cpu", "--scale", "0.01", "--case", "tinyface", "--case", "survface_template"]
    else:
        args += ["--device", "cuda"]
        for case in ("tinyface", "tinyface_no_distractors", "survface_template", "erc"):
            args += ["--case", case]
    return _py(ctx, *args)


def _metrics_headline(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in _read_json(ctx.logs / "metrics.json") or []:
        out[f"{row['case']}_s"] = row["seconds"]
        if row.get("gpu_peak_mib"):
            out[f"{row['case']}_gpu_peak_mib"] = row["gpu_peak_mib"]
        if row.get("matmul_reference_seconds"):
            out[f"{row['case']}_over_matmul"] = row["seconds"] / row["matmul_reference_seconds"]
    return out


# --- the example --------------------------------------------------------------------------------------------


def _backbone_path(ctx: Context) -> Path:
    return ctx.work / "iresnet50_calibrated_batchnorm.pt"


def _example_backbone_command(ctx: Context) -> list[str]:
    device, batch = ("cpu", "2") if ctx.dry_run else ("cuda", "64")
    return _py(
        ctx, "benchmarks/bench_train_step.py", "--device", device, "--backbone", "iresnet50",
        "--batch", batch, "--save-calibrated-backbone", str(_backbone_path(ctx)),
    )  # fmt: skip


def _example_backbone_headline(ctx: Context) -> dict[str, Any]:
    path = _backbone_path(ctx)
    return {"file_mib": path.stat().st_size / 2**20} if path.is_file() else {}


def _data_root(ctx: Context) -> Path:
    return ctx.work / "tinyface"


def _example_data_command(ctx: Context) -> list[str]:
    """The synthetic TinyFace tree, rendered by every CPU (the example would render it in one process)."""
    if ctx.dry_run:
        sizes = {
            "train-identities": 8, "train-images": 16, "test-identities": 4, "probe-identities": 4,
            "probe-images": 4, "gallery-images": 4, "distractor-images": 4,
        }  # fmt: skip
        scale, workers = "small", 1
    else:  # datasets.md: TinyFace's training and test sizes; distractors as chosen
        sizes, scale, workers = {"distractor-images": ctx.tinyface_distractors}, "full", os.cpu_count() or 1
    args = ["-m", "recognizability.data.synthetic", "--layout", "tinyface", "--out", str(_data_root(ctx))]
    args += ["--scale", scale, "--workers", str(workers)]
    for key, value in sizes.items():
        args += [f"--{key}", str(value)]
    return _py(ctx, *args)


def _example_data_headline(ctx: Context) -> dict[str, Any]:
    root = _data_root(ctx)
    return (
        {"images": sum(1 for p in root.rglob("*.*") if p.suffix in (".png", ".jpg"))} if root.is_dir() else {}
    )


def _train_tinyface_command(ctx: Context) -> list[str]:
    args = [
        "examples/train_tinyface.py", "--config", "paper", "--backbone", "iresnet50",
        "--data-root", str(_data_root(ctx)), "--pretrained", str(_backbone_path(ctx)),
        "--epochs", "1", "--out", str(ctx.work / "train_tinyface"), "--no-progress", "--no-plots",
    ]  # fmt: skip
    if ctx.dry_run:  # a tiny UI set (the default small one, 300 images, costs a minute on a CPU)
        args += ["--device", "cpu", "--max-steps", "1", "--batch-size", "2"]
        args += ["--synthetic-size", "face_images=6", "--synthetic-size", "nonface_images=2"]
    else:  # Table 5's batch (64); the default small synthetic UI set (300 images)
        args += ["--device", "cuda", "--max-steps", str(ctx.max_steps)]
    return _py(ctx, *args)


def _train_tinyface_headline(ctx: Context) -> dict[str, Any]:
    run = ctx.work / "train_tinyface"
    for name in ("comparison.json", "full/report.json"):  # kept with the logs: the work folder is temporary
        if (run / name).is_file():
            shutil.copyfile(run / name, ctx.logs / f"train_tinyface_{name.replace('/', '_')}")
    comparison = _read_json(run / "comparison.json") or {}
    out: dict[str, Any] = dict(comparison.get("runs", {}).get("full", {}))
    seconds = comparison.get("seconds", {})
    for phase in ("train full", "evaluate full", "total"):
        if phase in seconds:
            out[f"{phase.replace(' ', '_')}_s"] = seconds[phase]
    report = _read_json(run / "full" / "report.json") or {}
    history = report.get("training", {}).get("history", [])
    if history:
        out["train_images_per_s"] = history[-1].get("images_per_second")
    return out


STEPS: list[Step] = [
    Step("cuda_tests", 90, 90, _cuda_tests_command, _tests_headline("cuda_tests")),
    Step("bench_head", 75, 60, _head_command, _head_headline),
    Step("train_step", 75, 90, _train_step_command(False), _train_step_headline(False)),
    Step("metrics", 60, 60, _metrics_command, _metrics_headline),
    Step("example_data", 60, 60, _example_data_command, _example_data_headline),
    Step("example_backbone", 45, 60, _example_backbone_command, _example_backbone_headline),
    Step("train_tinyface", 120, 90, _train_tinyface_command, _train_tinyface_headline),
    Step("tests", 180, 60, _tests_command, _tests_headline("tests")),
    # last: compilation time is the least predictable; its rows are written one by one, iresnet50 first
    Step("train_step_compiled", 150, 90, _train_step_command(True), _train_step_headline(True)),
]
STEP_NAMES = [step.name for step in STEPS]


# --- running ------------------------------------------------------------------------------------------------


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """End the step's process group (the step and every process it started): TERM, then KILL after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_step(step: Step, ctx: Context, timeout: float, env: dict[str, str]) -> dict[str, Any]:
    """Run one step in its own process group with ``timeout`` seconds; never raises for the step's failure."""
    log = ctx.logs / f"{step.name}.log"
    record: dict[str, Any] = {"step": step.name, "log": f"logs/{log.name}", "timeout_s": timeout}
    try:
        command = step.command(ctx)
    except Exception as error:  # a bug in this script's own step definition: recorded like a failed step
        record.update(status="failed", returncode=None, seconds=0.0, error=f"{type(error).__name__}: {error}")
        return record
    record["command"] = " ".join(command)
    start = time.perf_counter()
    with log.open("wb") as sink:
        sink.write(f"$ {record['command']}\n# timeout {timeout:.0f} s\n\n".encode())
        sink.flush()
        try:
            process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as error:
            record.update(
                status="failed", returncode=None, seconds=0.0, error=f"{type(error).__name__}: {error}"
            )
            return record
        try:
            returncode: int | None = process.wait(timeout=timeout)
            status = "ok" if returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            _stop_group(process)
            returncode, status = None, "timeout"
        except BaseException:  # Ctrl-C: stop the step too, then let the caller record and re-raise
            _stop_group(process)
            raise
        seconds = time.perf_counter() - start
        sink.write(f"\n# {status}, return code {returncode}, {seconds:.1f} s\n".encode())
    record.update(status=status, returncode=returncode, seconds=seconds)
    try:
        record["headline"] = step.headline(ctx)
    except Exception as error:  # the figures of a failed step may be missing or partial
        record["headline"] = {}
        record["headline_error"] = f"{type(error).__name__}: {error}"
    return record


def _machine(env: dict[str, str], python: str) -> dict[str, Any]:
    """What the steps run on, asked of a fresh interpreter (this process never initialises CUDA)."""
    probe = (
        "import json, os, platform, torch\n"
        "d = {'python': platform.python_version(), 'torch': torch.__version__, 'cpus': os.cpu_count(),\n"
        "     'platform': platform.platform(), 'cuda_available': torch.cuda.is_available()}\n"
        "if d['cuda_available']:\n"
        "    p = torch.cuda.get_device_properties(0)\n"
        "    d.update(cuda=torch.version.cuda, gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),\n"
        "             gpu_count=torch.cuda.device_count())\n"
        "print(json.dumps(d))\n"
    )
    try:
        done = subprocess.run(
            [python, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
        )
        machine: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError) as error:
        machine = {"error": f"{type(error).__name__}: {error}"}
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        machine["commit"] = commit
    except (subprocess.SubprocessError, OSError):
        machine["commit"] = None
    return machine


def _promises(records: dict[str, dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """Each promise with the figure measured for it (None when its step did not produce it)."""
    batch, classes = _head_promise_config(ctx)
    train = f"{DRY_TRAIN_BACKBONE}_B2" if ctx.dry_run else "iresnet50_B64"
    compiled = f"{DRY_COMPILED_BACKBONE}_B2" if ctx.dry_run else "iresnet50_B64"

    def figure(step: str, key: str) -> float | None:
        value = records.get(step, {}).get("headline", {}).get(key)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    measured = {
        "head": figure("bench_head", f"time_ratio_B{batch}_C{classes}"),
        "train_step": figure("train_step", f"{train}_ratio"),
        "train_step_compiled": figure("train_step_compiled", f"{compiled}_ratio"),
        "tinyface_eval": figure("metrics", "tinyface_over_matmul"),
    }
    out = []
    for key, (what, threshold) in PROMISES.items():
        value = measured[key]
        holds = None if value is None or threshold is None or ctx.dry_run else value <= threshold
        out.append({"promise": key, "what": what, "threshold": threshold, "measured": value, "holds": holds})
    return out


def _format_figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def summary_table(records: Sequence[dict[str, Any]]) -> str:
    lines = ["| step | status | seconds | headline figures |", "|---|---|---:|---|"]
    for r in records:
        figures = "; ".join(f"{k} {_format_figure(v)}" for k, v in r.get("headline", {}).items())
        if r.get("error"):
            figures = r["error"]
        seconds = "-" if r.get("seconds") is None else f"{r['seconds']:.1f}"
        lines.append(f"| {r['step']} | {r['status']} | {seconds} | {figures or '-'} |")
    return "\n".join(lines)


def promises_table(promises: Sequence[dict[str, Any]], dry_run: bool) -> str:
    lines = ["| promise | threshold | measured | holds |", "|---|---:|---:|---|"]
    for p in promises:
        threshold = "-" if p["threshold"] is None else f"<= {p['threshold']:.2f}"
        measured = "-" if p["measured"] is None else f"{p['measured']:.3f}"
        holds = {True: "yes", False: "NO", None: "-"}[p["holds"]]
        lines.append(f"| {p['what']} | {threshold} | {measured} | {holds} |")
    if dry_run:
        lines.append("")
        lines.append(
            "Dry run: CPU, tiny sizes and other configurations; these figures check the script only."
        )
    return "\n".join(lines)


def write_summary(ctx: Context, summary: dict[str, Any]) -> None:
    (ctx.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    machine = summary["machine"]
    text = [
        f"# GPU check{' (dry run)' if ctx.dry_run else ''}",
        "",
        f"Command: `{summary['command']}`",
        f"Machine: {json.dumps(machine)}",
        f"Started {summary['started']}; {summary['seconds']:.0f} s so far; "
        f"budget {summary['budget_s']:.0f} s.",
        "",
        summary_table(summary["steps"]),
        "",
        promises_table(summary["promises"], ctx.dry_run),
        "",
    ]
    (ctx.out / "summary.md").write_text("\n".join(text))


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder unless ``overwrite``; changes nothing."""
    if out.exists() and not out.is_dir():
        raise SystemExit(f"--out: expected a folder, got the file {str(out)!r}")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SystemExit(
            f"--out: expected an empty or new folder, got {str(out)!r} with files in it "
            "(--overwrite replaces this script's own outputs there)"
        )


def prepare_out(out: Path, overwrite: bool) -> None:
    """Check ``out`` (:func:`check_out`), remove only what this script writes there, create ``out``."""
    check_out(out, overwrite)
    if out.is_dir():
        for name in OUTPUT_NAMES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def bundle(logs: Path, archive: Path) -> None:
    """Pack the folder ``logs`` into ``archive`` (a ``.tar.gz`` with top folder ``logs``), atomically."""
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(logs, arcname="logs")
    os.replace(partial, archive)


def _default_test_workers() -> int:
    if importlib.util.find_spec("xdist") is None:
        return 0
    return max(1, min(8, (os.cpu_count() or 2) // 2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=f"steps, in order: {', '.join(STEP_NAMES)}",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: $OUT, else gpu_check_out)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace this script's outputs in a used --out"
    )
    parser.add_argument("--dry-run", action="store_true", help="every step on the CPU at tiny sizes")
    parser.add_argument("--only", action="append", choices=STEP_NAMES, help="run only this step (repeatable)")
    parser.add_argument(
        "--skip", action="append", choices=STEP_NAMES, default=[], help="skip this step (repeatable)"
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds for the whole run (default 470; dry 600)"
    )
    parser.add_argument(
        "--tinyface-distractors",
        type=int,
        default=10_000,
        help=f"distractor images of the example's synthetic TinyFace (real: {TINYFACE_REAL_DISTRACTORS:,}, "
        "whose decoding and embedding take minutes)",
    )
    parser.add_argument("--max-steps", type=int, default=40, help="optimiser steps of the example run")
    parser.add_argument(
        "--test-workers", type=int, default=None, help="pytest-xdist workers for the tests step (0: none)"
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the scratch folder (checkpoints, data)"
    )
    parser.add_argument("--bundle", action="store_true", help="the logs as logs.tar.gz (3 files in --out)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.budget is not None and args.budget <= 0:
        parser.error(f"--budget: expected a positive number of seconds, got {args.budget}")
    if args.tinyface_distractors < 1 or args.max_steps < 1:
        parser.error(f"--tinyface-distractors, --max-steps: expected ints >= 1, got "
                     f"{args.tinyface_distractors}, {args.max_steps}")  # fmt: skip
    if args.test_workers is not None and args.test_workers < 0:
        parser.error(f"--test-workers: expected an int >= 0, got {args.test_workers}")
    names = set(STEP_NAMES if args.only is None else args.only)
    if "train_tinyface" in names:  # the example reads the tree and fine-tunes the backbone those steps write
        names |= {"example_data", "example_backbone"}
    selected = [s for s in STEPS if s.name in names and s.name not in args.skip]
    if not selected:
        parser.error("--only / --skip: expected at least one step left to run, got none")
    out = args.out if args.out is not None else Path(os.environ.get("OUT") or "gpu_check_out")
    budget = args.budget if args.budget is not None else (600.0 if args.dry_run else 470.0)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    env[INSIDE_CHECK] = "1"
    if args.dry_run:
        env["CUDA_VISIBLE_DEVICES"] = ""  # every step on the CPU, even on a GPU machine
    check_out(out, args.overwrite)  # before anything runs
    machine = _machine(env, sys.executable)
    if not args.dry_run and not machine.get("cuda_available"):
        raise SystemExit(
            f"expected a CUDA device for the GPU check, got none ({machine}); "
            "--dry-run runs every step on the CPU at tiny sizes"
        )
    prepare_out(out, args.overwrite)
    work = args.work if args.work is not None else Path(tempfile.mkdtemp(prefix="gpu_check_work_"))
    work.mkdir(parents=True, exist_ok=True)
    env["RECOGNIZABILITY_CACHE"] = str(work / "cache")  # the example's synthetic data, not the user's cache
    # --bundle: the logs live in the scratch folder and OUT holds 3 files at any time (the archive is
    # rewritten after every step), for machines that send back only a few files, even from a stopped run
    logs = work / "logs" if args.bundle else out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        dry_run=args.dry_run, out=out, logs=logs, work=work, python=sys.executable,
        tinyface_distractors=args.tinyface_distractors, max_steps=args.max_steps,
        test_workers=_default_test_workers() if args.test_workers is None else args.test_workers,
    )  # fmt: skip
    command = "python benchmarks/gpu_check.py " + " ".join(sys.argv[1:] if argv is None else argv)
    began = time.perf_counter()
    summary: dict[str, Any] = {
        "command": command.strip(),
        "dry_run": args.dry_run,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "budget_s": budget,
        "machine": machine,
        "work": str(work),
        "steps": [],
        "promises": [],
        "seconds": 0.0,
    }
    print(f"GPU check{' (dry run)' if args.dry_run else ''}: {len(selected)} steps, budget {budget:.0f} s, "
          f"output {out}\nmachine: {json.dumps(machine)}", flush=True)  # fmt: skip
    records: dict[str, dict[str, Any]] = {}
    try:
        for step in STEPS:
            if step not in selected:
                record: dict[str, Any] = {"step": step.name, "status": "skipped", "seconds": None}
            else:
                left = budget - (time.perf_counter() - began)
                if left < 10:
                    record = {"step": step.name, "status": "not run (budget spent)", "seconds": None}
                else:
                    timeout = min(step.dry_budget_s if args.dry_run else step.budget_s, left)
                    print(f"[{time.perf_counter() - began:5.0f} s] {step.name} (at most {timeout:.0f} s) ...",
                          flush=True)  # fmt: skip
                    record = run_step(step, ctx, timeout, env)
                    print(f"        {record['status']} in {record['seconds']:.1f} s", flush=True)
            records[step.name] = record
            summary["steps"].append(record)
            summary["promises"] = _promises(records, ctx)
            summary["seconds"] = time.perf_counter() - began
            write_summary(ctx, summary)
            if args.bundle:
                bundle(logs, out / "logs.tar.gz")
    except KeyboardInterrupt:
        summary["interrupted"] = True
        write_summary(ctx, summary)
        raise
    finally:
        if args.work is None and not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(summary_table(summary["steps"]))
    print()
    print(promises_table(summary["promises"], args.dry_run))
    print(f"\nwritten: {out / 'summary.json'}, {out / 'summary.md'}, "
          f"{out / ('logs.tar.gz' if args.bundle else 'logs')}  ({summary['seconds']:.0f} s)")  # fmt: skip
    failed = [r["step"] for r in summary["steps"] if r["status"] not in ("ok", "skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
