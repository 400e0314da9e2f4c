"""Images per second of ``recognizability quality`` on a folder of VLR faces: PyTorch against ONNX Runtime.

What is timed: :func:`recognizability.deploy.embed_images`, the loop of ``recognizability quality`` (files
read and decoded, bicubic-resized to 32 x 32 by a DataLoader worker in the background; the model runs on each
batch as it arrives) over a folder of N synthetic 32 x 32 PNG faces, once per backend and thread count, the
backends alternating so that both see the same machine load. The model is the CPU demo backbone
``small_vlr_net`` (embedding 128, as the demo) with the perceptibility regression module, random weights
(speed does not depend on them), in PyTorch and exported to ONNX. Also shown: the share of the wall time the
model was busy (the rest it waited for images), and the model alone on an in-memory batch.

    python benchmarks/bench_quality.py                       # 10,000 images, 1 and 2 threads, 3 repeats
    python benchmarks/bench_quality.py --images 2000 --repeats 1 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from recognizability.backbones import create_backbone
from recognizability.deploy import Preprocessing, QualityModel, collect_images, embed_images
from recognizability.nn import PerceptibilityRegression


def write_faces(folder: Path, count: int, size: int = 32, seed: int = 0) -> list[Path]:
    """``count`` synthetic size x size RGB PNGs (smooth random colour fields), written once and reused."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("*.png"))
    if len(existing) == count:
        return existing
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
        image.save(folder / f"{i:05d}.png")
    return sorted(folder.glob("*.png"))


class Timed:
    """A scorer that adds up the seconds spent in the model."""

    def __init__(self, scorer: object) -> None:
        self.scorer = scorer
        self.preprocessing = scorer.preprocessing  # type: ignore[attr-defined]
        self.calibration = None
        self.busy = 0.0

    def embed_and_score(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start = time.perf_counter()
        out: tuple[torch.Tensor, torch.Tensor] = self.scorer.embed_and_score(images)  # type: ignore[attr-defined]
        self.busy += time.perf_counter() - start
        return out


def machine() -> str:
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in cpu.splitlines() if "Model name" in line), "?"
        )
    except OSError:
        model = platform.processor() or "?"
    return f"{os.cpu_count()}-core {model}, Python {platform.python_version()}, torch {torch.__version__}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1, help="background decoding processes")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="model threads to try")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", help="folder for the PNGs (default: a temporary folder)")
    args = parser.parse_args()

    import onnxruntime

    from recognizability.deploy.onnx import OnnxQualityModel, export_onnx

    work = Path(tempfile.mkdtemp(prefix="bench_quality_"))
    folder = Path(args.data) if args.data else work / "faces"
    start = time.perf_counter()
    write_faces(folder, args.images)
    paths, problems = collect_images([folder])
    assert len(paths) == args.images and not problems
    print(
        f"{len(paths)} synthetic 32 x 32 PNGs ready in {time.perf_counter() - start:.1f} s", file=sys.stderr
    )

    torch.manual_seed(0)
    backbone = create_backbone("small_vlr_net", input_size=(32, 32), embedding_dim=128)
    regression = PerceptibilityRegression(128 * 4 * 4, dropout=0.9)
    model = QualityModel(backbone, regression, Preprocessing(32, "RGB", "small_vlr_net"))
    onnx_path = export_onnx(model, work / "model.onnx")
    batch = torch.rand((args.batch_size, 3, 32, 32), generator=torch.Generator().manual_seed(0)) * 255

    rows = []
    load = [os.getloadavg()[0]]
    for threads in args.threads:
        torch.set_num_threads(threads)
        backends = {"PyTorch": model, "ONNX Runtime": OnnxQualityModel(onnx_path, threads=threads)}
        walls: dict[str, list[float]] = {name: [] for name in backends}
        busy: dict[str, list[float]] = {name: [] for name in backends}
        alone: dict[str, list[float]] = {name: [] for name in backends}
        for warm in backends.values():
            warm.embed_and_score(batch)
        for _ in range(args.repeats):
            for name, scorer in backends.items():
                timed = Timed(scorer)
                start = time.perf_counter()
                scored = embed_images(timed, paths, batch_size=args.batch_size, workers=args.workers)  # type: ignore[arg-type]
                wall = time.perf_counter() - start
                assert len(scored.paths) == len(paths)
                walls[name].append(wall)
                busy[name].append(timed.busy / wall)
                start = time.perf_counter()
                for _ in range(5):
                    scorer.embed_and_score(batch)
                alone[name].append(5 * args.batch_size / (time.perf_counter() - start))
        for name in backends:
            rows.append(
                (
                    name,
                    threads,
                    len(paths) / statistics.median(walls[name]),
                    len(paths) / max(walls[name]),
                    100 * statistics.median(busy[name]),
                    statistics.median(alone[name]),
                )
            )
        load.append(os.getloadavg()[0])

    print(
        f"Machine: {machine()}, onnxruntime {onnxruntime.__version__}; "
        f"load average {min(load):.1f}-{max(load):.1f}"
    )
    print(
        f"Command: python benchmarks/bench_quality.py --images {args.images} --batch-size {args.batch_size} "
        f"--workers {args.workers} --threads {' '.join(map(str, args.threads))} --repeats {args.repeats}"
    )
    print()
    print(
        "| backend | model threads | images/s (median) | images/s (slowest) | model busy % "
        "| model alone images/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, threads, median, slowest, share, model_only in rows:
        print(f"| {name} | {threads} | {median:,.0f} | {slowest:,.0f} | {share:.0f} | {model_only:,.0f} |")
    by = {(r[0], r[1]): r[2] for r in rows}
    for threads in args.threads:
        print(
            f"\nONNX Runtime / PyTorch at {threads} thread(s): "
            f"{by[('ONNX Runtime', threads)] / by[('PyTorch', threads)]:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
