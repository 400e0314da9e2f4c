"""What a quality fit costs: seconds on 100,000 cached features, and one pass over the images

    python benchmarks/bench_fit_quality.py                        # 100,000 cached faces; a 2,000-image folder
    python benchmarks/bench_fit_quality.py --faces 20000 --images 500                          # a quick look

Part 1 times ``fit_quality_head`` (leave-one-out prototypes, targets, 1,500 Adam steps of the regression
module, the calibration on the held-out identities) on cached features of ``--faces`` faces of
``--identities`` identities, shaped like the shipped ``small_vlr_net``'s (feature map 128 x 4 x 4 in
float16, embedding 128; random values: the cost does not depend on them), for the regression module on the
feature map and on the embedding. No image is involved.

Part 2 runs ``fit_quality`` twice on a synthetic labelled folder of ``--images`` images (with ``--pseudo-ui``,
so the pseudo-UI set is made too) and counts the images decoded by each run (``decode_image`` calls, in this
process: ``--workers 0``): the first run decodes each image once, the second none.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from recognizability.data import synthetic
from recognizability.deploy import images as deploy_images
from recognizability.deploy.quality_fit import FaceFeatures, QualityFitSettings, fit_quality, fit_quality_head


def cached_features(faces: int, identities: int, seed: int = 0) -> FaceFeatures:
    """Random features of ``faces`` faces (as many per identity), shaped like small_vlr_net's."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(faces) % identities
    centres = torch.randn(identities, 128, generator=g)
    embeddings = centres[labels] + 1.5 * torch.randn(faces, 128, generator=g)
    feature_maps = torch.randn(faces, 128, 4, 4, generator=g).half()
    return FaceFeatures(
        paths=[Path(f"{i}.png") for i in range(faces)],
        labels=labels,
        identities=[str(i) for i in range(identities)],
        feature_maps=feature_maps,
        embeddings=embeddings,
        ui_embeddings=torch.randn(300, 128, generator=g),
    )


def part1(faces: int, identities: int, repeats: int) -> list[tuple[str, float, float]]:
    features = cached_features(faces, identities)
    centre = torch.nn.functional.normalize(features.ui_embeddings.mean(0), dim=0)  # type: ignore[union-attr]
    rows = []
    for target, regression_input in (
        ("certainty_ratio", "feature_map"), ("index", "feature_map"), ("certainty_ratio", "embedding"),
    ):  # fmt: skip
        settings = QualityFitSettings(target=target, regression_input=regression_input)  # type: ignore[arg-type]
        times, fits = [], []
        for _ in range(repeats):
            began = time.perf_counter()
            head = fit_quality_head(features, settings, centre)
            times.append(time.perf_counter() - began)
            fits.append(float(head.report["fit"]["seconds"]))
        rows.append((f"{target}, {regression_input}", min(times), min(fits)))
    return rows


def part2(images: int) -> list[tuple[str, int, float]]:
    identities = max(2, images // 16)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        tree = synthetic.generate(
            "tinyface", root / "tree", seed=0, train_identities=identities, train_images=images,
            test_identities=2, probe_identities=2, probe_images=2, gallery_images=2, distractor_images=1,
        )  # fmt: skip
        decoded = {"count": 0}
        original = deploy_images.decode_image

        def counting(path: object) -> torch.Tensor:
            decoded["count"] += 1
            return original(path)  # type: ignore[arg-type]

        deploy_images.decode_image = counting  # type: ignore[assignment]
        rows = []
        try:
            for run in ("first fit: index, --pseudo-ui", "second fit: certainty ratio, same faces"):
                decoded["count"] = 0
                target = "index" if run.startswith("first") else "certainty_ratio"
                began = time.perf_counter()
                fit_quality(
                    "small_vlr_net", "synthetic-hr", tree / "Training_Set", root / f"{target}.pt",
                    pseudo_ui=target == "index", settings=QualityFitSettings(target=target),  # type: ignore[arg-type]
                    cache=root / "cache", workers=0,
                )  # fmt: skip
                rows.append((run, decoded["count"], time.perf_counter() - began))
        finally:
            deploy_images.decode_image = original  # type: ignore[assignment]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--faces", type=int, default=100_000, help="cached faces of part 1 (100,000)")
    p.add_argument("--identities", type=int, default=2000, help="their identities (2,000)")
    p.add_argument("--images", type=int, default=2000, help="images of the folder of part 2 (2,000)")
    p.add_argument("--repeats", type=int, default=3, help="fits per input in part 1 (the fastest is shown)")
    args = p.parse_args(argv)
    command = " ".join(["python benchmarks/bench_fit_quality.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"command: {command}")
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    )
    print()
    print(f"Part 1: fit_quality_head on {args.faces:,} cached faces of {args.identities:,} identities "
          f"(20 % held out for the calibration), fastest of {args.repeats}")  # fmt: skip
    print()
    print("| target, regression input | whole fit from the cache, s | of which targets + regression, s |")
    print("|---|---:|---:|")
    for name, total, regression in part1(args.faces, args.identities, args.repeats):
        print(f"| {name} | {total:.2f} | {regression:.2f} |")
    print()
    print(
        f"Part 2: fit_quality on a synthetic folder of {args.images:,} labelled images, --pseudo-ui, "
        "workers 0"
    )
    print()
    print("| run | images decoded | seconds |")
    print("|---|---:|---:|")
    for name, count, seconds in part2(args.images):
        print(f"| {name} | {count:,} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
