"""Cost of a whole training step of the paper's method against ArcFace alone: images/s, ratio, peak memory.

Compares, side by side in one process, two copies of the training model of Fig. 2
(``recognizability.training.build_modules`` with Table 5's TinyFace settings, the named backbone at
112 x 112):

* (a) ArcFace alone: backbone -> ArcFace -> L_cls;
* (b) the full method: the same plus the Recognizability Index, the perceptibility regression and attention
  modules and every term of Eq. 10 (L_L1, L_ID, L_MSE) against a fitted UI centre.

One step is what the training loop does per batch: forward under bf16 autocast (CUDA), ``zero_grad``,
backward of the total, Adam step with the per-module learning rates. On CUDA the model and the images are
channels_last, as in the training loop; on CPU everything is float32 and contiguous (the CPU
rows only check the script, they are not the figures this benchmark is for). Inputs are random normalised
images and random labels among C classes (default 2,570, TinyFace's training identities).

No pretrained weights ship with the library, and Table 5 freezes the backbone's batch norm, which a randomly
initialised IResNet-50 cannot survive (its activations grow to ~1e25 through 50 layers without normalisation
and the losses overflow). Each backbone's batch-norm statistics are therefore first measured on a few random
batches (``calibrate_batchnorm``), a stand-in for the statistics a pretrained backbone brings; then they are
frozen as in training. ``--save-calibrated-backbone PATH`` writes such a backbone's state dict (the plain
arcface_torch format that ``--pretrained`` reads) and exits: the GPU check feeds it to the example.

The first step of each model runs eagerly with value checks on; then value checks are switched off (as in a
speed-minded training loop) and, with ``--compile``, the whole model (backbone, head and every loss term;
the examples' ``--compile`` compiles the backbone's trunk only) is compiled; its first step's time,
compilation included, is reported. Timed repeats alternate (a) and (b), ``--steps`` steps each, and the
median step time of each is reported with the ratio (b)/(a). Peak memory (CUDA):
``torch.cuda.max_memory_allocated`` during one step above what was allocated before it (activations,
gradients, temporaries), and the persistent state of each model (parameters, buffers and Adam moments).

Usage::

    python benchmarks/bench_train_step.py --device cuda                     # iresnet50 + mobilefacenet, B=64
    python benchmarks/bench_train_step.py --device cuda --compile --batch 64 --batch 256
    python benchmarks/bench_train_step.py --device cpu --backbone iresnet50 --batch 2 --repeats 1 --steps 1
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from recognizability._validation import set_value_checks
from recognizability.backbones import create_backbone, freeze_batchnorm
from recognizability.training import MethodModules, build_modules, paper_config, parameter_groups
from recognizability.training.config import LOSS_TERMS

TINYFACE_TRAINING_IDENTITIES = 2570  # datasets.md: TinyFace Training_Set, 2,570 identities / 7,804 images
INPUT_SIZE = 112
DEFAULT_BACKBONES = ("iresnet50", "mobilefacenet")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _state_mib(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
    """Bytes of parameters, buffers and optimiser state (the persistent memory of one model), in MiB."""
    tensors = [*model.parameters(), *model.buffers()]
    for state in optimizer.state.values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def calibrate_batchnorm(
    backbone: torch.nn.Module, device: torch.device, batch: int, batches: int, seed: int = 2
) -> None:
    """Set every batch-norm layer's running statistics to their average over ``batches`` random normalised
    batches (``momentum=None``: a cumulative average), in place, in training mode, without gradients.

    A stand-in for a pretrained backbone's statistics, so that frozen batch norm (Table 5) keeps a randomly
    initialised network's activations finite. Leaves ``backbone`` in training mode.
    """
    layers = [m for m in backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    generator = torch.Generator(device="cpu").manual_seed(seed)
    backbone.train()
    with torch.no_grad():
        for _ in range(batches):
            backbone(torch.randn(batch, 3, INPUT_SIZE, INPUT_SIZE, generator=generator).to(device))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


class Fig2Step(torch.nn.Module):
    """The forward pass of one training step of the examples (Fig. 2), as one module to time and compile:
    ``F = forward_features(x)``, ``v = forward_head(F)``, the margin head, the criterion."""

    def __init__(self, model: MethodModules) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> Any:
        m = self.model
        feature_map = m.backbone.forward_features(images)
        embeddings = m.backbone.forward_head(feature_map)
        return m.criterion(feature_map, embeddings, labels, m.head(embeddings, labels), m.ui_center)


class Variant:
    """One training model (ArcFace alone or the full method), its optimiser, and one batch to train on."""

    def __init__(
        self,
        name: str,
        backbone: str,
        losses: tuple[str, ...],
        batch: int,
        classes: int,
        device: torch.device,
        compile_backend: str | None,
    ) -> None:
        self.name = name
        self.device = device
        settings = paper_config("tinyface", backbone).with_losses(losses)
        torch.manual_seed(0)  # both variants start from the same backbone and prototypes
        model = build_modules(settings.replace(freeze_batchnorm=False), classes).to(device)
        calibrate_batchnorm(model.backbone, device, batch=batch, batches=2)
        freeze_batchnorm(model.backbone)  # as Table 5's configuration does (freeze_batchnorm=True)
        generator = torch.Generator(device="cpu").manual_seed(1)
        images = torch.randn(batch, 3, INPUT_SIZE, INPUT_SIZE, generator=generator)
        self.labels = torch.randint(0, classes, (batch,), generator=generator).to(device)
        self.images = images.to(device)
        if device.type == "cuda":  # as Session.place and prepare_batch do on CUDA
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self.images = self.images.contiguous(memory_format=torch.channels_last)
        self.model = model
        c = model.criterion
        self.optimizer = torch.optim.Adam(
            parameter_groups(
                settings.optim, backbone=model.backbone, recognition=model.head, attention=c.attention,
                regression=c.regression,
            )
        )  # fmt: skip
        model.eval()  # the UI centre u from the backbone's embeddings, as refresh_ui_center does each epoch
        with torch.no_grad(), self._autocast():
            ui_images = torch.randn(batch, 3, INPUT_SIZE, INPUT_SIZE, generator=generator).to(device)
            if device.type == "cuda":
                ui_images = ui_images.contiguous(memory_format=torch.channels_last)
            embeddings = model.backbone.forward_head(model.backbone.forward_features(ui_images))
        model.ui_center.fit(embeddings.float())
        model.train()  # frozen batch-norm layers (Table 5) stay frozen: build_modules froze them
        self.step_module = Fig2Step(model)
        self.forward: Callable[..., Any] = self.step_module
        self.compile_backend = compile_backend

    def _autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda")

    def step(self) -> None:
        with self._autocast():
            out = self.forward(self.images, self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        self.optimizer.step()

    def checked_step(self) -> float:
        """One eager step with value checks on (so bad inputs fail loudly here); returns the loss."""
        set_value_checks(True)
        try:
            with self._autocast():
                out = self.step_module(self.images, self.labels)
            self.optimizer.zero_grad(set_to_none=True)
            out.total.backward()
            self.optimizer.step()
            loss = float(out.total.detach())
        finally:
            set_value_checks(False)
        if loss != loss or loss in (float("inf"), float("-inf")):
            raise FloatingPointError(f"{self.name}: non-finite loss {loss} in the checked step")
        return loss

    def first_step_seconds(self) -> float:
        """Compile (when asked) and run one step; returns its wall time (compilation included)."""
        if self.compile_backend is not None:
            self.forward = torch.compile(self.step_module, backend=self.compile_backend)
        _sync(self.device)
        start = time.perf_counter()
        self.step()
        _sync(self.device)
        return time.perf_counter() - start

    def time_steps_ms(self, steps: int) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        _sync(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        _sync(self.device)
        return (time.perf_counter() - start) * 1e3 / steps

    def peak_step_mib(self) -> float | None:
        """Peak bytes allocated during one step above what was allocated before it (CUDA only)."""
        if self.device.type != "cuda":
            return None
        self.optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize(self.device)
        base = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.step()
        torch.cuda.synchronize(self.device)
        return (torch.cuda.max_memory_allocated(self.device) - base) / 2**20


def measure(
    backbone: str,
    batch: int,
    classes: int,
    device: torch.device,
    compile_backend: str | None,
    warmup: int,
    repeats: int,
    steps: int,
) -> dict[str, Any]:
    """Side-by-side figures of (a) ArcFace alone and (b) the full method for one backbone and batch size."""
    variants = [
        Variant("arcface", backbone, (), batch, classes, device, compile_backend),
        Variant("full", backbone, LOSS_TERMS, batch, classes, device, compile_backend),
    ]
    losses = [v.checked_step() for v in variants]
    first = [v.first_step_seconds() for v in variants]
    for _ in range(warmup):
        for v in variants:
            v.step()
    times: list[list[float]] = [[], []]
    for _ in range(repeats):  # interleaved: both see the same machine state
        for i, v in enumerate(variants):
            times[i].append(v.time_steps_ms(steps))
    median = [statistics.median(t) for t in times]
    peaks = [v.peak_step_mib() for v in variants]
    states = [_state_mib(v.model, v.optimizer) for v in variants]
    return {
        "backbone": backbone,
        "input": INPUT_SIZE,
        "batch": batch,
        "classes": classes,
        "device": device.type,
        "precision": "bf16 autocast, channels_last" if device.type == "cuda" else "fp32",
        "compiled": compile_backend is not None,
        "compile_backend": compile_backend,
        "repeats": repeats,
        "steps_per_repeat": steps,
        "first_step_s": {"arcface": first[0], "full": first[1]},
        "checked_step_loss": {"arcface": losses[0], "full": losses[1]},
        "step_ms": {"arcface": median[0], "full": median[1]},
        "images_per_s": {"arcface": batch * 1e3 / median[0], "full": batch * 1e3 / median[1]},
        "ratio_full_over_arcface": median[1] / median[0],
        "peak_step_mib": {"arcface": peaks[0], "full": peaks[1]},
        "state_mib": {"arcface": states[0], "full": states[1]},
    }


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def format_row(row: dict[str, Any]) -> str:
    ms, ips, peak, state = row["step_ms"], row["images_per_s"], row["peak_step_mib"], row["state_mib"]
    compiled = f"yes ({row['compile_backend']})" if row["compiled"] else "no"
    return (
        f"| {row['backbone']} | {row['device']} | {row['precision']} | {compiled} | {row['batch']} "
        f"| {ms['arcface']:.1f} | {ms['full']:.1f} | {row['ratio_full_over_arcface']:.3f} "
        f"| {ips['arcface']:,.0f} | {ips['full']:,.0f} | {_mib(peak['arcface'])} | {_mib(peak['full'])} "
        f"| {state['arcface']:,.0f} | {state['full']:,.0f} "
        f"| {row['first_step_s']['arcface']:.1f} / {row['first_step_s']['full']:.1f} |"
    )


HEADER = (
    "| backbone | device | precision | compiled | B | (a) ArcFace ms | (b) full method ms | time b/a "
    "| (a) images/s | (b) images/s | step peak (a) MiB | step peak (b) MiB | state (a) MiB | state (b) MiB "
    "| first step s (a) / (b) |\n"
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def machine_description(device: torch.device) -> str:
    text = f"{platform.machine()}, torch {torch.__version__}, Python {platform.python_version()}"
    if device.type == "cuda":
        text += f", CUDA {torch.version.cuda}: {torch.cuda.get_device_name(device)}"
    else:
        text += f", {torch.get_num_threads()} torch threads"
    return text


def save_calibrated_backbone(name: str, path: Path, device: torch.device, batch: int) -> int:
    """Write ``name``'s state dict, batch-norm statistics calibrated (4 batches), to ``path`` (new file)."""
    if path.exists():
        raise FileExistsError(
            f"expected --save-calibrated-backbone to name a new file, got existing {str(path)!r}"
        )
    torch.manual_seed(0)
    backbone = create_backbone(name).to(device)
    calibrate_batchnorm(backbone, device, batch=batch, batches=4)
    state = {k: v.detach().cpu() for k, v in backbone.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    print(f"wrote {name} with batch-norm statistics of random batches (no pretrained weights) to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument(
        "--backbone",
        action="append",
        default=None,
        help=f"repeatable (default: {', '.join(DEFAULT_BACKBONES)})",
    )
    parser.add_argument("--batch", type=int, action="append", default=None, help="repeatable (default 64)")
    parser.add_argument("--classes", type=int, default=TINYFACE_TRAINING_IDENTITIES)
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument(
        "--compile-backend", default="inductor", help="torch.compile backend (default inductor)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps of each model after the first")
    parser.add_argument("--repeats", type=int, default=10, help="timed repeats of each model")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    parser.add_argument(
        "--save-calibrated-backbone",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the (first) backbone with calibrated batch-norm statistics to PATH and exit",
    )
    args = parser.parse_args(argv)

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device: expected a device this machine has, got {args.device!r} (no CUDA device)")
    for name in ("classes", "repeats", "steps"):
        if getattr(args, name) < (2 if name == "classes" else 1):
            parser.error(
                f"--{name}: expected an int >= {2 if name == 'classes' else 1}, got {getattr(args, name)}"
            )
    if args.warmup < 0:
        parser.error(f"--warmup: expected an int >= 0, got {args.warmup}")
    batches = args.batch or [64]
    if any(b < 2 for b in batches):
        parser.error(f"--batch: expected ints >= 2 (batch norm in training mode), got {batches}")
    if args.json is not None and args.json.exists():
        parser.error(f"--json: expected a path that does not exist yet, got {str(args.json)!r}")
    backbones = args.backbone or list(DEFAULT_BACKBONES)
    if args.save_calibrated_backbone is not None:
        return save_calibrated_backbone(backbones[0], args.save_calibrated_backbone, device, max(batches))

    arguments = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"Command: python benchmarks/bench_train_step.py {arguments}".rstrip())
    print(f"Machine: {machine_description(device)}")
    print(
        f"Median of {args.repeats} interleaved repeats of {args.steps} steps; C={args.classes:,}; "
        f"input {INPUT_SIZE}x{INPUT_SIZE}; Table 5 TinyFace settings; value checks off after a checked step."
    )
    print()
    print(HEADER, flush=True)
    rows: list[dict[str, Any]] = []
    backend = args.compile_backend if args.compile else None
    for backbone in backbones:
        for batch in batches:
            row = measure(
                backbone, batch, args.classes, device, backend, args.warmup, args.repeats, args.steps
            )
            rows.append(row)
            print(format_row(row), flush=True)
            if args.json is not None:  # after every row, so a run stopped later keeps what it measured
                args.json.write_text(
                    json.dumps({"machine": machine_description(device), "rows": rows}, indent=2)
                )
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
