"""Speed of the batched training augmentation against the same steps applied one image at a time.

Prints a table (with the command and the machine) of milliseconds per batch and images per second for
``TrainAugmentation`` on a batch of VLR-sized uint8 images, for a per-image loop doing the same steps, and for
``collate_variable_size`` (the worker-side resize of decoded images of different sizes to 112 x 112).
Quote ratios measured side by side in one run; absolute figures depend on the machine and its load.

    python benchmarks/bench_transforms.py [--batch 128] [--repeats 5] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

import torch

from recognizability.data import transforms as T


def _time(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads (DataLoader workers run with 1; default 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    # Decoded VLR images: sizes around TinyFace's 20 x 16 average.
    decoded = [
        (torch.randint(0, 256, (3, int(h), int(w)), generator=g, dtype=torch.uint8), 0)
        for h, w in torch.randint(12, 33, (args.batch, 2), generator=g)
    ]
    images, _ = T.collate_variable_size(decoded, size=112)
    images = images.to(device)
    augment = T.TrainAugmentation(generator=torch.Generator(device=device).manual_seed(0))

    def per_image() -> list[torch.Tensor]:
        return [augment(images[i : i + 1]) for i in range(images.shape[0])]

    rows = [
        (
            "collate_variable_size (worker, CPU)",
            _time(lambda: T.collate_variable_size(decoded, 112), args.repeats, torch.device("cpu")),
        ),
        ("TrainAugmentation, whole batch", _time(lambda: augment(images), args.repeats, device)),
        ("same steps, one image at a time", _time(per_image, args.repeats, device)),
    ]
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, "
        f"device {device}{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}, "
        f"threads {torch.get_num_threads()}"
    )
    print(
        f"batch {args.batch} uint8 images, decoded sizes 12..32 px, output 112 x 112; best of {args.repeats}"
    )
    print()
    print("| step | ms / batch | images / s |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e3:.1f} | {args.batch / seconds:,.0f} |")
    print()
    print(f"batched vs per-image augmentation: {rows[2][1] / rows[1][1]:.1f}x faster")


if __name__ == "__main__":
    main()
