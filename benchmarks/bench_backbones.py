"""Training throughput of the backbones: images/s for forward + backward (+ SGD step), printed as a table.

    python benchmarks/bench_backbones.py                       # CPU, and CUDA when present
    python benchmarks/bench_backbones.py --iters 3 --threads 2

CPU: float32, contiguous. CUDA: bf16 autocast + channels_last (the trunk in bf16, heads in float32).
Paper backbones at 112 x 112, small_vlr_net at 32 x 32; batch 64 by default.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import torch

from recognizability.backbones import create_backbone

CASES = [("iresnet50", 112), ("mobilefacenet", 112), ("small_vlr_net", 32)]


def _throughput(name: str, size: int, device: torch.device, batch: int, warmup: int, iters: int) -> float:
    torch.manual_seed(0)
    model = create_backbone(name).to(device).train()
    images = torch.randn(batch, 3, size, size, device=device)
    use_cuda = device.type == "cuda"
    if use_cuda:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_cuda):
            loss = model(images).float().square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if use_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if use_cuda:
        torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iters", type=int, default=2, help="timed iterations on CPU (x10 on CUDA)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for the CPU runs")
    parser.add_argument("--models", nargs="*", default=[n for n, _ in CASES])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"command: python {' '.join(sys.argv)}")
    print(f"torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}")
    cpu = platform.processor() or platform.machine()
    print(f"cpu: {cpu}, torch threads {torch.get_num_threads()}")
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
        print(f"cuda: {torch.cuda.get_device_name()}")
    print()
    print("| model | input | device | precision | batch | images/s (fwd+bwd+step) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for device in devices:
        for name, size in CASES:
            if name not in args.models:
                continue
            iters = args.iters if device.type == "cpu" else 10 * args.iters
            warmup = args.warmup if device.type == "cpu" else max(3, args.warmup)
            ips = _throughput(name, size, device, args.batch, warmup, iters)
            precision = "fp32" if device.type == "cpu" else "bf16 autocast, channels_last"
            print(
                f"| {name} | {size}x{size} | {device.type} | {precision} | {args.batch} | {ips:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
