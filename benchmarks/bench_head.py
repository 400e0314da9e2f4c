"""Cost of the paper's extra loss terms on top of ArcFace: forward + backward time and peak memory.

Compares, side by side in one run:

* (a) ``ArcFace`` alone: cosines with C prototypes, margin, cross-entropy, backward;
* (b) ``ArcFace`` + the Recognizability Index + the index diversion loss + the perceptibility regression term
  (regression module on a ``(B, 512, 7, 7)`` feature map, paper Fig. 2), i.e. ``RecognizabilityLoss`` with the
  attention term switched off, backward through everything.

Value checks are off (as in a speed-minded training loop). Repeats alternate (a), (b), (a), (b), ... and the
median of each is reported with the ratio (b)/(a). Only the head is timed (no backbone), which is the
strictest view of the overhead: in training the backbone's cost is added to both.

Peak memory is the peak of bytes allocated by torch during one forward + backward above what was allocated
before it: on CUDA from ``torch.cuda.max_memory_allocated``; on CPU from the allocation events that
``torch.profiler`` (``profile_memory=True``) records for torch's CPU allocator, replayed in time order.

Usage::

    python benchmarks/bench_head.py            # B in {64, 512}, C in {1e3, 1e4, 1e5}; CPU (+ CUDA if any)
    python benchmarks/bench_head.py --quick    # one small configuration, few repeats
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from recognizability._validation import set_value_checks
from recognizability.nn import ArcFace, RecognizabilityLoss, UICenter

EMBEDDING_DIM = 512
FEATURE_SHAPE = (512, 7, 7)


@dataclass
class Row:
    repeats: int
    device: str
    batch: int
    classes: int
    time_a_ms: float
    time_b_ms: float
    peak_a_mib: float
    peak_b_mib: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _make_steps(
    batch: int, classes: int, device: torch.device
) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
    torch.manual_seed(0)
    head = ArcFace(EMBEDDING_DIM, classes).to(device)
    criterion = RecognizabilityLoss(
        FEATURE_SHAPE[0], FEATURE_SHAPE[1:], EMBEDDING_DIM, use_attention=False
    ).to(device)
    ui_center = UICenter(EMBEDDING_DIM).to(device)
    ui_center.fit(torch.randn(256, EMBEDDING_DIM, device=device))
    feature_map = torch.randn(batch, *FEATURE_SHAPE, device=device, requires_grad=True)
    embeddings = torch.randn(batch, EMBEDDING_DIM, device=device, requires_grad=True)
    labels = torch.randint(0, classes, (batch,), device=device)
    leaves = [feature_map, embeddings, *head.parameters(), *criterion.parameters()]

    def clear() -> None:
        for leaf in leaves:
            leaf.grad = None

    # Both variants keep the ArcFace output alive through backward, as a training step does.
    def arcface_only() -> None:
        arc = head(embeddings, labels)
        arc.loss.backward()

    def with_terms() -> None:
        arc = head(embeddings, labels)
        out = criterion(feature_map, embeddings, labels, arc, ui_center)
        out.total.backward()

    return clear, arcface_only, with_terms


def _time_ms(step: Callable[[], None], clear: Callable[[], None], device: torch.device) -> float:
    clear()  # drop the previous step's gradients outside the timed region
    _sync(device)
    start = time.perf_counter()
    step()
    _sync(device)
    return (time.perf_counter() - start) * 1e3


def _peak_mib(step: Callable[[], None], clear: Callable[[], None], device: torch.device) -> float:
    clear()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events: list[tuple[int, int]] = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    current = peak = 0
    for _, size in sorted(events):
        current += size
        peak = max(peak, current)
    return peak / 2**20


def measure(
    batch: int, classes: int, device: torch.device, repeats: int, warmup: int, budget_s: float
) -> Row:
    clear, arcface_only, with_terms = _make_steps(batch, classes, device)
    start = time.perf_counter()
    for _ in range(warmup):
        clear()
        arcface_only()
        clear()
        with_terms()
    pair_s = (time.perf_counter() - start) / max(warmup, 1)
    # Big configurations get fewer (at least 5) repeats.
    repeats = min(repeats, max(5, int(budget_s / pair_s)))
    times_a, times_b = [], []
    for _ in range(repeats):  # interleaved: both see the same machine load
        times_a.append(_time_ms(arcface_only, clear, device))
        times_b.append(_time_ms(with_terms, clear, device))
    return Row(
        repeats=repeats,
        device=device.type,
        batch=batch,
        classes=classes,
        time_a_ms=statistics.median(times_a),
        time_b_ms=statistics.median(times_b),
        peak_a_mib=_peak_mib(arcface_only, clear, device),
        peak_b_mib=_peak_mib(with_terms, clear, device),
    )


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    text = f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    text += f", Python {platform.python_version()}"
    if torch.cuda.is_available():
        text += f"; CUDA: {torch.cuda.get_device_name()}"
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one small configuration, 3 repeats")
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats of each variant (default 15)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of timed repeats per configuration (at least 5 repeats)",
    )
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument(
        "--config",
        action="append",
        default=None,
        metavar="BxC",
        help="only these sizes, e.g. --config 512x10000",
    )
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: expected a CUDA device, got none (torch.cuda.is_available() is False)")

    set_value_checks(False)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    if args.quick:
        configs, repeats, warmup = [(64, 1000)], 3, 1
    else:
        configs = [(b, c) for b in (64, 512) for c in (1_000, 10_000, 100_000)]
        if args.config:
            configs = [(int(b), int(c)) for b, c in (item.lower().split("x") for item in args.config)]
        repeats, warmup = args.repeats, args.warmup

    arguments = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"Command: python benchmarks/bench_head.py {arguments}".rstrip())
    print(f"Machine: {machine_description()}")
    print(f"Median of up to {repeats} interleaved repeats, forward + backward, value checks off,")
    print(f"D={EMBEDDING_DIM}, feature map (B, {', '.join(map(str, FEATURE_SHAPE))}).")
    print()
    print(
        "| device | B | C | repeats | (a) ArcFace ms | (b) + index, L_ID, L_L1 ms | time b/a "
        "| peak (a) MiB | peak (b) MiB | peak b/a |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows: list[dict[str, object]] = []
    for device in devices:
        for batch, classes in configs:
            row = measure(batch, classes, device, repeats, warmup, args.budget)
            print(
                f"| {row.device} | {row.batch} | {row.classes:,} | {row.repeats} | {row.time_a_ms:.1f} "
                f"| {row.time_b_ms:.1f} | "
                f"{row.time_b_ms / row.time_a_ms:.2f} | {row.peak_a_mib:.1f} | {row.peak_b_mib:.1f} | "
                f"{row.peak_b_mib / row.peak_a_mib:.2f} |",
                flush=True,
            )
            if args.json is not None:  # after every row, so a run stopped later keeps what it measured
                rows.append(dataclasses.asdict(row))
                with open(args.json, "w") as f:
                    json.dump({"machine": machine_description(), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
