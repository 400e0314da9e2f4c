"""Benchmark of recognizability.metrics at full protocol scale: wall time and peak resident memory.

Each case runs in a fresh subprocess (peak RSS = ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that
process, which includes the generated input features). Features are random unit vectors with planted matches:
a probe is a noisy copy of one of its identity's gallery images, so ranks vary as in a real evaluation.

    python benchmarks/bench_metrics.py            # all cases, CPU (and CUDA when present)
    python benchmarks/bench_metrics.py --case tinyface --device cpu
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

CASES = ("tinyface", "tinyface_no_distractors", "survface_template", "erc")


def _unit(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, d, generator=generator), dim=1)


def _planted(gallery: torch.Tensor, labels: torch.Tensor, n: int, noise: float, g: torch.Generator):
    """n probes, each a noisy copy of a random gallery image (its label is the probe's)."""
    pick = torch.randint(0, gallery.shape[0], (n,), generator=g)
    probes = gallery[pick] + noise * torch.randn(n, gallery.shape[1], generator=g) / gallery.shape[1] ** 0.5
    return probes, labels[pick]


def run_case(case: str, device: str) -> dict[str, object]:
    from recognizability.metrics import error_versus_reject, evaluate_tinyface, tpir_at_fpir

    g = torch.Generator().manual_seed(0)
    d = 512
    if case.startswith("tinyface"):
        labels = torch.randint(0, 2569, (4443,), generator=g)
        labels[:2569] = torch.arange(2569)  # every identity present
        gallery = _unit(4443, d, g)
        probes, probe_labels = _planted(gallery, labels, 3728, 4.0, g)
        distractors = _unit(153428, d, g) if case == "tinyface" else None
        args = [x.to(device) if x is not None else None for x in (probes, probe_labels, gallery, labels)]
        if distractors is not None:
            distractors = distractors.to(device)
        _sync(device)
        cpu_start = time.process_time()
        start = time.perf_counter()
        report = evaluate_tinyface(*args, distractor_features=distractors)
        _sync(device)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        summary = (
            f"rank-1 {report.rank_1:.4f} rank-5 {report.rank_5:.4f} rank-20 {report.rank_20:.4f} "
            f"mAP {report.mean_average_precision:.4f}"
        )
    elif case == "survface_template":
        labels = torch.arange(60000) % 3000
        centres = _unit(3000, d, g)  # identity-clustered gallery, so templates are meaningful
        gallery = torch.nn.functional.normalize(centres[labels] + _unit(60000, d, g), dim=1)
        mated, mated_labels = _planted(gallery, labels, 60000, 4.0, g)
        unmated = _unit(120000, d, g)
        args = [x.to(device) for x in (mated, mated_labels, unmated, gallery, labels)]
        _sync(device)
        cpu_start = time.process_time()
        start = time.perf_counter()
        result = tpir_at_fpir(*args, (0.3, 0.2, 0.1), rank=20, gallery="template")
        _sync(device)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        summary = "TPIR20@FPIR 0.3/0.2/0.1 " + "/".join(f"{v:.4f}" for v in result.tpir.tolist())
    elif case == "erc":
        n_gen, n_imp = 20888, 50000
        scores = torch.cat(
            [0.4 + 0.2 * torch.randn(n_gen, generator=g), 0.1 * torch.randn(n_imp, generator=g)]
        )
        scores = scores.clamp(-1, 1).to(device)
        genuine = torch.cat([torch.ones(n_gen, dtype=torch.bool), torch.zeros(n_imp, dtype=torch.bool)]).to(
            device
        )
        quality = (scores + 0.3 * torch.randn(scores.shape, generator=g).to(device)).to(device)
        _sync(device)
        cpu_start = time.process_time()
        start = time.perf_counter()
        aucs = [
            error_versus_reject(scores, genuine, quality, 1e-3, threshold=t).auc
            for t in ("fixed", "recomputed", "crfiqa")
        ]
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        summary = "AUC fixed/recomputed/crfiqa " + "/".join(f"{a:.4f}" for a in aucs) + " (3 curves)"
    else:
        raise ValueError(f"expected case in {CASES}, got {case!r}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024  # KiB -> MiB (Linux)
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
    return {
        "case": case,
        "device": device,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mib": peak,
        "gpu_peak_mib": gpu_peak,
        "summary": summary,
        "threads": torch.get_num_threads(),
    }


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, action="append")
    parser.add_argument("--device", choices=("cpu", "cuda"), action="append")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.case[0], args.device[0])))
        return
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    cases = args.case or list(CASES)
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, python {platform.python_version()}"
    )
    print("| case | device | wall s | CPU s (all threads) | peak RSS MiB | GPU peak MiB | result |")
    print("|---|---|---|---|---|---|---|")
    for device in devices:
        for case in cases:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--case", case, "--device", device],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {r['case']} | {r['device']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | "
                f"{r['peak_rss_mib']:.0f} | "
                f"{r['gpu_peak_mib']:.0f} | {r['summary']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
