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
    python benchmarks/bench_head.py --heads    # dense, chunked, 2-process sharded ArcFace; B=512, C=1e5, 1e6
    python benchmarks/bench_head.py --margin-heads   # each margin head beside ArcFace (bench_margin_heads.py)
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import statistics
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from recognizability._validation import set_value_checks
from recognizability.nn import ArcFace, RecognizabilityLoss, UICenter
from recognizability.nn.chunked import ChunkedArcFace

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


# ----------------------------------------------------------------------------------------------------------
# Million-class heads (--heads): dense ArcFace, ChunkedArcFace and ShardedArcFace on 2 gloo processes
# ----------------------------------------------------------------------------------------------------------


def _available_bytes() -> int:
    """``MemAvailable`` of ``/proc/meminfo`` (a large number where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def _sharded_worker(rank: int, batch: int, classes: int, repeats: int, store: str, out: str) -> None:
    import torch.distributed as dist

    from recognizability.nn.sharded import ShardedArcFace

    torch.set_num_threads(1)  # two processes, one core each
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    set_value_checks(False)
    torch.manual_seed(rank)
    head = ShardedArcFace(EMBEDDING_DIM, classes, chunk_size=16384)
    embeddings = torch.randn(batch // 2, EMBEDDING_DIM, requires_grad=True)  # gathered batch: B
    labels = torch.randint(0, classes, (batch // 2,))
    times = []
    for _ in range(1 + repeats):  # one warm-up step
        embeddings.grad = head.weight.grad = None
        dist.barrier()
        start = time.perf_counter()
        head(embeddings, labels).loss.backward()
        times.append((time.perf_counter() - start) * 1e3)
    if rank == 0:
        with open(out, "w") as f:
            json.dump(statistics.median(times[1:]), f)
    dist.destroy_process_group()


def measure_heads(batch: int, classes: int, repeats: int) -> dict[str, float | None]:
    """Median step time (forward + backward) and peak memory of the dense and the chunked head sharing one
    prototype matrix, interleaved; then the sharded head's step time on 2 gloo processes (gathered batch B).
    The dense head is skipped where its estimated peak beyond its already allocated parameter (4 ``(B, C)``
    and 2 ``(C, D)`` float32 tensors; measured: about 5 tensors of either size at ``B = D = 512``) would not
    fit in 80 % of the available memory."""
    import tempfile

    import torch.multiprocessing as mp

    row: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_sharded_worker, args=(batch, classes, repeats, f"{tmp}/store", f"{tmp}/t"), nprocs=2)
        with open(f"{tmp}/t") as f:
            row["sharded_ms"] = float(json.load(f))
    torch.manual_seed(0)
    dense = ArcFace(EMBEDDING_DIM, classes)
    chunked = ChunkedArcFace(EMBEDDING_DIM, classes)
    chunked.weight = dense.weight  # one copy of the prototypes for both
    embeddings = torch.randn(batch, EMBEDDING_DIM, requires_grad=True)
    labels = torch.randint(0, classes, (batch,))
    cpu = torch.device("cpu")

    def clear() -> None:
        embeddings.grad = dense.weight.grad = None

    steps = {"chunked": lambda: chunked(embeddings, labels).loss.backward()}
    dense_bytes = 4 * (4 * batch * classes + 2 * classes * EMBEDDING_DIM)
    if dense_bytes < 0.8 * _available_bytes():
        steps["dense"] = lambda: dense(embeddings, labels).loss.backward()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(1 + repeats):  # the first round warms up
        for name, step in steps.items():
            times[name].append(_time_ms(step, clear, cpu))
    for name in ("dense", "chunked"):
        row[f"{name}_ms"] = statistics.median(times[name][1:]) if name in steps else None
        row[f"{name}_peak_mib"] = _peak_mib(steps[name], clear, cpu) if name in steps else None
    return row


def main_heads(repeats: int, configs: list[tuple[int, int]]) -> None:
    print(
        "| B | C | dense ms | chunked ms | chunked/dense time | 2-process sharded ms | dense peak MiB "
        "| chunked peak MiB | chunked/dense peak |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for batch, classes in configs:
        r = measure_heads(batch, classes, repeats)
        dense_ms, dense_peak = r["dense_ms"], r["dense_peak_mib"]
        chunked_ms, chunked_peak = r["chunked_ms"], r["chunked_peak_mib"]
        assert chunked_ms is not None and chunked_peak is not None

        def cell(value: float | None, digits: int = 0) -> str:
            return "skipped (does not fit)" if value is None else f"{value:,.{digits}f}"

        time_ratio = None if dense_ms is None else chunked_ms / dense_ms
        peak_ratio = None if dense_peak is None else chunked_peak / dense_peak
        print(
            f"| {batch} | {classes:,} | {cell(dense_ms)} | {cell(chunked_ms)} | {cell(time_ratio, 2)} "
            f"| {cell(r['sharded_ms'])} | {cell(dense_peak)} | {cell(chunked_peak)} "
            f"| {cell(peak_ratio, 3)} |",
            flush=True,
        )


def machine_description() -> str:
    """The CPU (or GPU), torch threads and versions, as bench_margin_heads.py writes them (one definition)."""
    description: str = _sibling_script("bench_margin_heads").machine_description()
    return description


def _sibling_script(name: str) -> types.ModuleType:
    """Import another benchmark script of this folder, however this one was started."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"expected benchmarks/{name}.py beside {Path(__file__).name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    parser.add_argument(
        "--heads",
        action="store_true",
        help="dense vs chunked vs 2-process sharded ArcFace on CPU (B=512, C in {1e5, 1e6}; or --config)",
    )
    parser.add_argument(
        "--margin-heads",
        action="store_true",
        help="CosFace, AdaFace, CurricularFace, MagFace beside ArcFace (runs bench_margin_heads.py)",
    )
    args = parser.parse_args(argv)
    if args.margin_heads:
        forwarded = ["--quick"] if args.quick else ["--repeats", str(args.repeats)]
        forwarded += [f"--config={config}" for config in args.config or []]
        forwarded += ["--device", "cuda"] if args.device == "cuda" else []
        _sibling_script("bench_margin_heads").main(forwarded)
        return
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
    if args.heads:
        print(f"Machine: {machine_description()}")
        print(f"Median of {args.repeats} interleaved repeats, forward + backward, value checks off, D=512.")
        print()
        default = [(512, 100_000), (512, 1_000_000)]
        main_heads(args.repeats, [(64, 10_000)] if args.quick else (configs if args.config else default))
        return
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
