"""Cost of each margin head beside ArcFace: forward + backward time of the head alone, and its ratio.

For every (B, C), the five heads of the library (ArcFace, CosFace, AdaFace, CurricularFace, MagFace,
each with its own paper's defaults and in training mode, so AdaFace's and CurricularFace's statistics are
updated as in training) run on the same embeddings ``(B, 512)`` and labels. Every round times each head once,
in turn, starting with another head each round, so all heads see the same machine load; the median per head
and its ratio to ArcFace's median are printed. The time is the head's: cosines with the C prototypes, margin,
cross-entropy, the index parts (top-2), backward to the embeddings and the prototypes. Value checks are off,
as in a speed-minded loop. ``--parallel chunked`` times the chunked holders of the same margins
(``build_head(name, ..., parallel="chunked")``: no (B, C) tensor) instead of the dense heads.

Usage::

    python benchmarks/bench_margin_heads.py                         # B in {64, 512} x C in {1e3, 1e4}
    python benchmarks/bench_margin_heads.py --config 512x100000     # other sizes
    python benchmarks/bench_margin_heads.py --quick                 # one small size, 3 repeats
    python benchmarks/bench_margin_heads.py --parallel chunked      # the chunked heads
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from recognizability._validation import set_value_checks
from recognizability.nn import available_heads, build_head

EMBEDDING_DIM = 512


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _steps(
    batch: int, classes: int, device: torch.device, parallel: str = "none"
) -> dict[str, Callable[[], None]]:
    torch.manual_seed(0)
    # Norms spread over 5-60, as raw backbone embeddings have (AdaFace and MagFace read them).
    embeddings = torch.randn(batch, EMBEDDING_DIM, device=device)
    embeddings = embeddings * torch.linspace(0.2, 2.5, batch, device=device)[:, None]
    embeddings.requires_grad_()
    labels = torch.randint(0, classes, (batch,), device=device)
    steps: dict[str, Callable[[], None]] = {}
    for name in available_heads(parallel):
        head = build_head(name, EMBEDDING_DIM, classes, parallel=parallel).to(device).train()

        def step(head: torch.nn.Module = head) -> None:
            embeddings.grad = None
            for parameter in head.parameters():
                parameter.grad = None
            head(embeddings, labels).loss.backward()

        steps[name] = step
    return steps


def measure(
    batch: int, classes: int, device: torch.device, repeats: int, warmup: int, parallel: str = "none"
) -> dict[str, float]:
    """Median milliseconds per head over ``repeats`` interleaved rounds."""
    steps = _steps(batch, classes, device, parallel)
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(repeats):
        # Each round starts with another head, so no head is always the one timed right after a given other.
        for name in names[round_index % len(names) :] + names[: round_index % len(names)]:
            step = steps[name]
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


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
    parser.add_argument("--repeats", type=int, default=11, help="interleaved rounds (default 11)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--parallel", choices=["none", "chunked"], default="none", help="dense heads (default) or chunked"
    )
    parser.add_argument(
        "--config", action="append", default=None, metavar="BxC", help="only these sizes, e.g. 512x10000"
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    device = torch.device(args.device)
    set_value_checks(False)
    if args.quick:
        configs, repeats, warmup = [(64, 1000)], 3, 1
    else:
        configs = [(b, c) for b in (64, 512) for c in (1_000, 10_000)]
        if args.config:
            configs = [(int(b), int(c)) for b, c in (item.lower().split("x") for item in args.config)]
        repeats, warmup = args.repeats, args.warmup

    arguments = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"Command: python benchmarks/bench_margin_heads.py {arguments}".rstrip())
    print(f"Machine: {machine_description()}")
    print(f"Median of {repeats} interleaved rounds, forward + backward of the head alone, D={EMBEDDING_DIM},")
    print("training mode, value checks off. Ratio: the head's median over ArcFace's median, same run.")
    print(f"Heads: parallel={args.parallel!r}.")
    print()
    names = available_heads(args.parallel)
    header = " | ".join(f"{name} ms (x ArcFace)" for name in names)
    print(f"| device | B | C | {header} |")
    print("|---|---:|---:|" + "---:|" * len(names))
    for batch, classes in configs:
        medians = measure(batch, classes, device, repeats, warmup, args.parallel)
        base = medians["arcface"]
        cells = " | ".join(f"{medians[name]:.1f} ({medians[name] / base:.2f})" for name in names)
        print(f"| {device.type} | {batch} | {classes:,} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
