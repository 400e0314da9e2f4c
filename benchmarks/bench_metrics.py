"""Benchmark of recognizability.metrics at full protocol scale: wall time and peak resident memory.

Each case runs in a fresh subprocess (peak RSS = ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that
process, which includes the generated input features). Features are random unit vectors with planted matches:
a probe is a noisy copy of one of its identity's gallery images, so ranks vary as in a real evaluation.

    python benchmarks/bench_metrics.py            # all cases, CPU (and CUDA when present)
    python benchmarks/bench_metrics.py --case tinyface --device cpu
    python benchmarks/bench_metrics.py --device cuda --matmul-reference    # + the bare matrix product
    python benchmarks/bench_metrics.py --scale 0.01 --device cpu           # tiny sizes: a check of the script

On CUDA a small evaluation runs first (untimed) so the timed one does not pay for CUDA's start-up.
``--matmul-reference`` also times the TinyFace cases' probe x gallery matrix product alone (one float32
``torch.mm``, after the evaluation, outside the peak-RSS figure), the floor the evaluation is compared with.
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


def run_case(case: str, device: str, scale: float = 1.0, matmul_reference: bool = False) -> dict[str, object]:
    from recognizability.metrics import error_versus_reject, evaluate_tinyface, tpir_at_fpir

    def n(full: int) -> int:  # a size of the protocol, times --scale
        return max(1, round(full * scale))

    g = torch.Generator().manual_seed(0)
    d = 512
    reference_seconds = None
    if case.startswith("tinyface"):
        identities = n(2569)
        labels = torch.randint(0, identities, (n(4443),), generator=g)
        labels[:identities] = torch.arange(identities)  # every identity present
        gallery = _unit(n(4443), d, g)
        probes, probe_labels = _planted(gallery, labels, n(3728), 4.0, g)
        distractors = _unit(n(153428), d, g) if case == "tinyface" else None
        args = [x.to(device) if x is not None else None for x in (probes, probe_labels, gallery, labels)]
        if distractors is not None:
            distractors = distractors.to(device)
        if device == "cuda":  # CUDA's start-up (context, cuBLAS, kernel loading) outside the timed call
            evaluate_tinyface(args[0][:64], args[1][:64], args[2], args[3])
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
        labels = torch.arange(n(60000)) % n(3000)
        centres = _unit(n(3000), d, g)  # identity-clustered gallery, so templates are meaningful
        gallery = torch.nn.functional.normalize(centres[labels] + _unit(n(60000), d, g), dim=1)
        mated, mated_labels = _planted(gallery, labels, n(60000), 4.0, g)
        unmated = _unit(n(120000), d, g)
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
        n_gen, n_imp = n(20888), n(50000)
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
    if matmul_reference and case.startswith("tinyface"):
        everything = args[2] if distractors is None else torch.cat([args[2], distractors])
        torch.mm(args[0], everything.T)  # warm-up
        _sync(device)
        start = time.perf_counter()
        torch.mm(args[0], everything.T)
        _sync(device)
        reference_seconds = time.perf_counter() - start
        summary += f"; probe x gallery matmul alone {reference_seconds:.4f} s"
    return {
        "case": case,
        "device": device,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mib": peak,
        "gpu_peak_mib": gpu_peak,
        "summary": summary,
        "threads": torch.get_num_threads(),
        "scale": scale,
        "matmul_reference_seconds": reference_seconds,
    }


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, action="append")
    parser.add_argument("--device", choices=("cpu", "cuda"), action="append")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (1: the protocols)")
    parser.add_argument("--matmul-reference", action="store_true", help="also time the bare matrix product")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error(f"--scale: expected a float in (0, 1], got {args.scale}")
    if args.child:
        print(json.dumps(run_case(args.case[0], args.device[0], args.scale, args.matmul_reference)))
        return
    if "cuda" in (args.device or []) and not torch.cuda.is_available():
        parser.error("--device cuda: expected a CUDA device, got none (torch.cuda.is_available() is False)")
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    cases = args.case or list(CASES)
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, python {platform.python_version()}"
    )
    print("| case | device | wall s | CPU s (all threads) | peak RSS MiB | GPU peak MiB | result |")
    print("|---|---|---|---|---|---|---|")
    options = ["--scale", repr(args.scale)] + (["--matmul-reference"] if args.matmul_reference else [])
    results = []
    for device in devices:
        for case in cases:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--case", case, "--device", device, *options],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            if args.json is not None:  # after every case, so a run stopped later keeps what it measured
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=2)
            print(
                f"| {r['case']} | {r['device']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | "
                f"{r['peak_rss_mib']:.0f} | "
                f"{r['gpu_peak_mib']:.0f} | {r['summary']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
