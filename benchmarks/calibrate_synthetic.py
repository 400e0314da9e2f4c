"""Calibration of the synthetic benchmark (SYNTHETIC data): ArcFace-only baseline, small TinyFace tree.

Generates the small default TinyFace-like tree (or reads ``--root``), trains the CPU demo configuration
(the small backbone ``small_vlr_net`` at 32 x 32, ArcFace s=32, m=0.3, no recognisability losses) for a
fixed budget of process CPU time, then runs the TinyFace protocol (Probe vs Gallery_Match +
Gallery_Distractor, image ranking, no flip fusion) and prints rank-1 overall, on the hard and the other
probes, and per ground-truth severity bin.

What the benchmark must show (docs/synthetic.md): rank-1 neither near 0 nor near 100 % (aim 30-80 %),
clearly lower on hard probes, falling with severity. Every figure printed here is SYNTHETIC and not
comparable with the paper.

    python benchmarks/calibrate_synthetic.py --cpu-seconds 240 --threads 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from recognizability.backbones import small_vlr_net
from recognizability.data import TinyFace
from recognizability.data.synthetic import generate
from recognizability.data.transforms import normalize, resize_batch
from recognizability.metrics import cmc
from recognizability.nn import ArcFace

SEVERITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def load_subset(
    root: Path, subset: str, size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A whole subset resized to size x size and normalised: (N, 3, s, s), labels, severity, hard."""
    dataset = TinyFace(root, subset)
    images = []
    for index in range(len(dataset)):
        image, _ = dataset[index]
        images.append(resize_batch(image[None].float(), (size, size), value_range=(0.0, 255.0)))
    batch = normalize(torch.cat(images))
    labels = torch.tensor([r.label for r in dataset.samples], dtype=torch.long)
    severity = torch.tensor(
        [float(r.severity) if r.severity is not None else float("nan") for r in dataset.samples]
    )
    hard = torch.tensor([bool(r.hard) for r in dataset.samples])
    return batch, labels, severity, hard


@torch.no_grad()
def embed(model: torch.nn.Module, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([F.normalize(model(images[i : i + batch]), dim=1) for i in range(0, len(images), batch)])


def augment(images: torch.Tensor) -> torch.Tensor:
    """Random horizontal flip and a random shift of up to 2 pixels (reflect padding)."""
    flip = torch.rand(images.shape[0]) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    dy, dx = (int(v) for v in torch.randint(0, 5, (2,)))
    return padded[:, :, dy : dy + images.shape[2], dx : dx + images.shape[3]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="an existing TinyFace-like tree (default: generate)"
    )
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument(
        "--cpu-seconds",
        type=float,
        default=240.0,
        help="training budget in process CPU seconds (240 = two minutes on two cores; CPU rather than wall "
        "time so that a busy shared machine does not shrink the run)",
    )
    parser.add_argument("--width", type=int, default=32, help="small_vlr_net width")
    # s=32, m=0.3 rather than the paper's s=64, m=0.45: from scratch, on 200 classes and ~400 steps, the
    # paper's setting stayed at loss ~27 in a trial run (docs/synthetic.md); the aim is a working baseline.
    parser.add_argument("--scale", type=float, default=32.0, help="ArcFace s")
    parser.add_argument("--margin", type=float, default=0.3, help="ArcFace m")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--size", type=int, default=32, help="network input side (the images' native scale)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.train_seed)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        generation_s = float("nan")
        if root is None:
            start = time.perf_counter()
            root = generate("tinyface", Path(tmp) / "tinyface", seed=args.seed)
            generation_s = time.perf_counter() - start
        train_x, train_y, _, _ = load_subset(root, "train", args.size)
        probe_x, probe_y, probe_sev, probe_hard = load_subset(root, "probe", args.size)
        gallery_x, gallery_y, _, _ = load_subset(root, "gallery", args.size)
        distractor_x, _, _, _ = load_subset(root, "distractor", args.size)

    num_classes = int(train_y.max()) + 1
    model = small_vlr_net(input_size=(args.size, args.size), width=args.width)
    head = ArcFace(model.embedding_dim, num_classes, scale=args.scale, margin=args.margin)
    params = list(model.parameters()) + list(head.parameters())
    optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=5e-4)

    start = time.perf_counter()
    cpu_start = time.process_time()
    steps = seen = 0
    model.train()
    while time.process_time() - cpu_start < args.cpu_seconds:
        order = torch.randperm(len(train_x))
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):
            used = time.process_time() - cpu_start
            if used >= args.cpu_seconds:
                break
            for group in optimizer.param_groups:  # cosine decay over the CPU-time budget
                group["lr"] = 0.5 * args.lr * (1.0 + math.cos(math.pi * used / args.cpu_seconds))
            index = order[i : i + args.batch_size]
            out = head(model(augment(train_x[index])), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            steps += 1
            seen += len(index)
    train_s = time.perf_counter() - start
    train_cpu_s = time.process_time() - cpu_start
    final_loss = float(out.loss.detach())

    result = cmc(
        embed(model, probe_x),
        probe_y,
        embed(model, gallery_x),
        gallery_y,
        ranks=(1, 5),
        distractor_features=embed(model, distractor_x),
    )
    correct = (result.ranks_of_probes == 0).float()

    def rate(mask: torch.Tensor) -> tuple[float, int]:
        n = int(mask.sum())
        return (float(correct[mask].mean()) * 100.0 if n else float("nan"), n)

    figures: dict[str, object] = {
        "synthetic": True,
        "generation_seconds": generation_s,
        "train_seconds": train_s,
        "train_cpu_seconds": train_cpu_s,
        "steps": steps,
        "images_per_second": seen / train_s,
        "final_loss": final_loss,
        "num_classes": num_classes,
        "train_images": len(train_x),
        "probes": len(probe_x),
        "gallery": len(gallery_x),
        "distractors": len(distractor_x),
        "rank1": float(result.rates[0]) * 100.0,
        "rank5": float(result.rates[1]) * 100.0,
        "mAP": result.mean_average_precision * 100.0,
        "rank1_hard": rate(probe_hard),
        "rank1_not_hard": rate(~probe_hard),
        "rank1_by_severity": {
            f"[{lo:.1f}, {hi:.1f}{']' if hi == 1.0 else ')'}": rate(
                (probe_sev >= lo) & ((probe_sev < hi) if hi < 1.0 else (probe_sev <= hi))
            )
            for lo, hi in itertools.pairwise(SEVERITY_BINS)
        },
    }
    print("SYNTHETIC benchmark calibration (not comparable with the paper)")
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {args.threads} threads"
    )
    print(
        f"generation {generation_s:.1f} s wall; "
        f"training {train_s:.0f} s wall / {train_cpu_s:.0f} s CPU, "
        f"{steps} steps, "
        f"{figures['images_per_second']:.0f} img/s, final loss {final_loss:.2f}"
    )
    print(
        f"train {len(train_x)} images / {num_classes} ids; probes {len(probe_x)}, gallery {len(gallery_x)}, "
        f"distractors {len(distractor_x)}"
    )
    print("| subset | probes | rank-1 % |\n|---|---|---|")
    print(f"| all | {len(probe_x)} | {figures['rank1']:.1f} |")
    for name in ("rank1_not_hard", "rank1_hard"):
        value, n = figures[name]  # type: ignore[misc]
        print(f"| {name.removeprefix('rank1_').replace('_', ' ')} | {n} | {value:.1f} |")
    for name, (value, n) in figures["rank1_by_severity"].items():  # type: ignore[attr-defined]
        print(f"| severity {name} | {n} | {value:.1f} |")
    print(f"rank-5 {figures['rank5']:.1f} %, mAP {figures['mAP']:.1f} %")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
