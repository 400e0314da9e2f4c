"""Plumbing for the example scripts: helpers the training loop calls, never a loop of their own.

- :class:`Session`: device and torchrun set-up, CPU threads, where outputs go, the data of a run, evaluation
  with ``report.json`` and plots, and the printed comparison of the runs;
- :class:`TrainingRun` (``session.start(...)``): checkpoint after every epoch, exact resume with
  ``--resume``, the history of the run, one log line per epoch;
- :class:`EpochMeter` (``run.meter(...)``): the progress bar and the running mean of every loss term.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from recognizability.backbones.loading import CheckpointError, load_pretrained
from recognizability.backbones.registry import available_pretrained
from recognizability.metrics.ui_cluster import UIClusterStatistics
from recognizability.nn import RecognizabilityLossOutput

from .checkpoint import load_checkpoint, save_checkpoint
from .config import ModelConfig, TrainingConfig
from .data import RunData, load_run_data, resolve_benchmark
from .distributed import DistributedContext, init_distributed
from .evaluation import evaluate_run
from .evidence import evidence_lines
from .guards import check_batch_size_for_training
from .modules import MethodModules, build_backbone, build_criterion
from .reports import RunReport, TrainingSummary, comparison_table, ui_cluster_table, write_report
from .run_dir import RunDir, prepare_run_dir
from .sharded_heads import checkpoint_states, shard_checkpoint
from .ui_cluster import backbone_ui_cluster

__all__ = [
    "TERM_NAMES",
    "EpochMeter",
    "RunOptions",
    "Session",
    "TrainingResult",
    "TrainingRun",
    "check_config_can_train",
]

#: The loss terms logged each step (fields of ``RecognizabilityLossOutput``).
TERM_NAMES: tuple[str, ...] = ("total", "classification", "regression", "diversion", "attention")


@dataclass(frozen=True)
class RunOptions:
    """How to run, as opposed to what to train (:class:`TrainingConfig`): the command line's other options.

    Attributes:
        data_root, ui_root: real dataset and UI folders (None: the synthetic benchmark, cached).
        synthetic_seed, synthetic_sizes, synthetic_ui_sizes: the generated benchmark's seed and size options.
        device: "cpu", "cuda", "cuda:1" or None (CUDA when available).
        threads: torch CPU threads (None: torch's, or 1 when the CPU is already busy).
        amp: bf16 autocast on CUDA.
        compile: ``torch.compile`` the backbone's trunk.
        out: output folder (checkpoints, report.json, plots, comparison.json).
        resume: continue from ``OUT/<run>/last.pt``.
        overwrite: replace an earlier run in ``OUT/<run>``.
        plots: draw the figures of each report.
        progress: show progress bars.
    """

    out: Path
    data_root: str | None = None
    ui_root: str | None = None
    synthetic_seed: int = 0
    synthetic_sizes: dict[str, int] = field(default_factory=dict)
    synthetic_ui_sizes: dict[str, int] = field(default_factory=dict)
    device: str | None = None
    threads: int | None = None
    amp: bool = True
    compile: bool = False
    resume: bool = False
    overwrite: bool = False
    plots: bool = True
    progress: bool = True


@dataclass
class TrainingResult:
    """What a training function returns: the trained modules and how they were trained.

    Attributes:
        name: the run's name (its folder in ``OUT``).
        model: the trained modules, in eval mode.
        config: the configuration they were trained with.
        history: one dict per epoch: the mean loss terms, images/s, validation figures, learning rates.
        seconds: wall time of the epochs run in this process (not counting a resumed run's earlier epochs).
        resumed_from: number of epochs loaded from a checkpoint (0 for a fresh run).
    """

    name: str
    model: MethodModules
    config: TrainingConfig
    history: list[dict[str, float]]
    seconds: float
    resumed_from: int


def _cpu_is_busy() -> bool:
    """Whether other processes already keep every CPU busy (1-minute load average >= CPU count).

    Measured on a shared 2-core machine at load average 3.6-4.8: small_vlr_net trained at 21-79 images/s with
    2 torch threads and 295-305 with 1 (benchmarks/RESULTS.md, training section).
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not available on every platform
        return False
    return load >= (os.cpu_count() or 1)


def _plot_names() -> tuple[str, ...]:
    """The figures a run writes beside its report (imported late: ``plots`` also runs with ``python -m``)."""
    from .plots import PLOT_NAMES

    return PLOT_NAMES


def check_config_can_train(config: TrainingConfig) -> None:
    """What can be checked of a run before any data is loaded, changing nothing.

    - ``pretrained`` is weights shipped in the package for the backbone, or a file of weights that fit it:
      the file is read and checked against the backbone built on the ``meta`` device (no memory for the
      backbone, nothing copied; :func:`~recognizability.backbones.load_pretrained`'s checks), once per file
      and backbone;
    - a batch size of 1 fits the model's batch-norm layers
      (:func:`~recognizability.training.guards.check_batch_size_for_training`), checked on the backbone and
      the criterion built on the ``meta`` device (no memory, no weights read; only then, as the meta device's
      first use costs seconds of imports).

    Raises:
        ValueError, FileNotFoundError: naming the configuration field (its command-line option), the
            expected and the received value.
    """
    model = config.model
    shipped = available_pretrained().get(model.backbone, [])
    if model.pretrained is not None and model.pretrained not in shipped:
        path = Path(model.pretrained).expanduser()
        if not path.is_file():
            what = "a folder" if path.is_dir() else "no such file"
            raise FileNotFoundError(
                f"expected --pretrained to be a checkpoint file or weights shipped for {model.backbone} "
                f"({shipped or 'none'}), got {model.pretrained!r} ({what})"
            )
        _check_pretrained_fits(model, path)
    if config.data.batch_size != 1:  # >= 1 checked by DataConfig; batch norm trains on 2 or more
        return
    with torch.device("meta"):
        backbone = build_backbone(dataclasses.replace(model, pretrained=None))
        criterion = build_criterion(config, backbone)
    try:
        check_batch_size_for_training(nn.ModuleDict({"backbone": backbone, "criterion": criterion}), 1)
    except ValueError as err:
        raise ValueError(f"--batch-size: {err}") from None


#: (file, size, modification time, backbone configuration) of the ``--pretrained`` files found to fit.
_PRETRAINED_FITS: set[tuple[str, int, int, str]] = set()


def _check_pretrained_fits(model: ModelConfig, path: Path) -> None:
    """Read the ``pretrained`` file and check it fits the backbone of ``model``, without loading it anywhere.

    Raises:
        ValueError: ``--pretrained: `` and :func:`~recognizability.backbones.load_pretrained`'s message (not a
            torch file, truncated, pickled objects, no backbone state dict, missing or mismatched keys).
    """
    stat = path.stat()
    key = (
        str(path.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        repr(dataclasses.replace(model, pretrained=None)),
    )
    if key in _PRETRAINED_FITS:
        return
    with torch.device("meta"):
        backbone = build_backbone(dataclasses.replace(model, pretrained=None))
    with warnings.catch_warnings():
        # torch warns that copying into a meta parameter is a no-op: nothing is meant to be copied
        warnings.simplefilter("ignore", UserWarning)
        try:
            load_pretrained(backbone, path)
        except CheckpointError as err:
            raise ValueError(f"--pretrained: {err}") from None
    _PRETRAINED_FITS.add(key)


class EpochMeter:
    """The running mean of every loss term over one epoch, and its progress bar.

    Terms are summed on the device and read back once every ``log_every`` steps (for the bar) and once at the
    end, so the loop has no per-step host sync beyond what the optimiser needs.
    """

    def __init__(
        self,
        epoch: int,
        epochs: int,
        steps: int,
        context: DistributedContext,
        progress: bool,
        log_every: int = 10,
    ) -> None:
        self.context, self.steps, self.log_every, self.done = context, steps, log_every, 0
        self.epoch = epoch
        self.sums = torch.zeros(len(TERM_NAMES), device=context.device)
        self.bar: Any = None
        if progress and context.is_main:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False, file=sys.stderr)
            except ImportError:
                pass
        self.images = 0
        self.began = time.perf_counter()

    def update(self, losses: RecognizabilityLossOutput, batch_size: int) -> None:
        """Add one step's terms."""
        self.sums += torch.stack([getattr(losses, name).detach().float() for name in TERM_NAMES])
        self.done += 1
        self.images += batch_size
        if self.bar is not None and (self.done % self.log_every == 0 or self.done == self.steps):
            means = (self.sums / self.done).tolist()
            self.bar.set_postfix({n[:5]: f"{m:.3f}" for n, m in zip(TERM_NAMES, means, strict=True)})
            self.bar.update(self.done - self.bar.n)

    def finish(self) -> dict[str, float]:
        """Mean of every term over the epoch (and over the processes), ``images_per_second`` and ``steps``.

        Raises:
            FloatingPointError: a mean is not finite (named, with the usual causes); the checkpoint of the
                previous epoch is left as it was.
        """
        if self.context.device.type == "cuda":
            torch.cuda.synchronize(self.context.device)
        elapsed = time.perf_counter() - self.began
        if self.bar is not None:
            self.bar.close()
        means: list[float] = self.context.all_reduce_mean(self.sums / max(self.done, 1)).tolist()
        result = dict(zip(TERM_NAMES, means, strict=True))
        result["images_per_second"] = self.images * self.context.world_size / max(elapsed, 1e-9)
        result["steps"] = float(self.done)
        if not all(math.isfinite(v) for v in means):
            bad = [name for name, value in zip(TERM_NAMES, means, strict=True) if not math.isfinite(value)]
            raise FloatingPointError(
                f"expected finite losses, got non-finite {bad} in epoch {self.epoch + 1} (means {result}). "
                f"Usual causes: a learning rate too high for the model; frozen batch norm on a backbone "
                f"without pretrained weights (--pretrained); non-finite input images (value checks, "
                f"recognizability._validation.set_value_checks(True), find them before the backbone runs). "
                f"The last checkpoint holds the previous epoch: --resume continues from it"
            )
        return result


class TrainingRun:
    """Checkpoints, resume and history of one training run; made by :meth:`Session.start`.

    With ``--resume`` and a ``last.pt`` in the run's folder, the modules, Adam, the scheduler and the RNG
    states are restored and :meth:`epochs` starts after the last finished epoch; because every epoch reseeds
    from ``(seed, epoch)``, the resumed run reaches the same weights as an uninterrupted one.
    """

    def __init__(
        self,
        session: Session,
        name: str,
        config: TrainingConfig,
        model: MethodModules,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> None:
        self.session, self.name, self.config = session, name, config
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.history: list[dict[str, float]] = []
        self.start_epoch = 0
        self.checkpoint: Path | None = None
        run_dir = session.prepare_run(name, config)
        self.run_dir = run_dir
        if run_dir is not None:
            self.checkpoint = run_dir.checkpoint
            if run_dir.resume_checkpoint is not None:  # read and checked against config by prepare_run_dir
                # a class-sharded head is stored whole: this process takes its rows (any number of processes)
                checkpoint = shard_checkpoint(run_dir.resume_checkpoint, model, optimizer)
                payload = load_checkpoint(
                    checkpoint,
                    model=model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    map_location=session.device,
                )
                self.start_epoch = int(payload["epoch"])
                self.history = [dict(row) for row in payload["extra"].get("history", [])]
                session.say(f"resumed from {self.checkpoint} after epoch {self.start_epoch}")
        self.seconds = 0.0
        self._began = self._epoch_began = time.perf_counter()
        self._lrs: dict[str, float] = {}

    def epochs(self) -> range:
        """The (0-based) epochs still to run."""
        return range(self.start_epoch, self.config.optim.epochs)

    def meter(self, epoch: int, steps: int) -> EpochMeter:
        """A meter for ``epoch``'s ``steps`` batches (progress bar on the main process)."""
        self._epoch_began = time.perf_counter()
        # the learning rates this epoch runs with (the scheduler steps before the epoch is recorded)
        self._lrs = {f"lr_{g['name']}": float(g["lr"]) for g in self.optimizer.param_groups}
        return EpochMeter(
            epoch, self.config.optim.epochs, steps, self.session.context, self.session.options.progress
        )

    def end_epoch(self, epoch: int, terms: dict[str, float], validation: dict[str, float]) -> None:
        """Record the epoch (terms, validation figures, the learning rates it ran with), print one line, and
        write the checkpoint (main process), then wait for every process."""
        validation_figures = {f"val_{k}": v for k, v in validation.items()}
        row = {"epoch": float(epoch + 1), **terms, **validation_figures, **self._lrs}
        self.history.append(row)
        self.seconds += time.perf_counter() - self._epoch_began
        self.session.say(
            f"epoch {epoch + 1}/{self.config.optim.epochs}: loss {terms['total']:.3f} (cls "
            f"{terms['classification']:.3f} L1 {terms['regression']:.3f} ID {terms['diversion']:.3f} MSE "
            f"{terms['attention']:.3f}) val acc (flipped, {self.config.data.validation_degrade_size}px) "
            f"{validation['accuracy']:.3f} [{terms['images_per_second']:.0f} img/s]"
        )
        if self.checkpoint is not None and self.run_dir is not None:
            # a class-sharded head's shards are gathered whole onto the main process (a collective)
            model_state, optimizer_state = checkpoint_states(self.model, self.optimizer)
            if self.session.context.is_main:
                # --overwrite: the earlier run's files make way only now, for the new run's first checkpoint
                with self.run_dir.replacing_earlier_run():
                    save_checkpoint(
                        self.checkpoint, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                        epoch=epoch + 1, settings=self.config, extra={"history": self.history},
                        model_state=model_state, optimizer_state=optimizer_state,
                    )  # fmt: skip
        self.session.context.barrier()

    def finish(self) -> TrainingResult:
        """The modules in eval mode and the run's history."""
        self.session.timed(f"train {self.name}", self._began)
        self.model.eval()
        return TrainingResult(
            self.name, self.model, self.config, self.history, self.seconds, self.start_epoch
        )


class Session:
    """The plumbing of one invocation of an example script.

    Construction joins the process group under ``torchrun`` (:func:`init_distributed`), picks the CPU threads
    and notes the time. Everything else is a method the script calls.

    Attributes:
        options: the :class:`RunOptions`.
        context: this process's :class:`DistributedContext` (rank, world size, device).
        out: the output folder (None: nothing written).
        timings: phase -> seconds, printed by :meth:`finish`.
        data: what :meth:`load_data` loaded last (None before).
    """

    def __init__(self, options: RunOptions, *, write: bool = True) -> None:
        self.options = options
        self.context = init_distributed(options.device)
        self.out: Path | None = Path(options.out) if write else None
        self.timings: dict[str, float] = {}
        self.began = time.perf_counter()
        self._run_dirs: dict[str, RunDir] = {}
        self.data: RunData | None = None
        self._initial_ui_clusters: dict[str, UIClusterStatistics] = {}
        if options.threads is not None:
            torch.set_num_threads(options.threads)
        elif self.device.type == "cpu" and _cpu_is_busy():
            torch.set_num_threads(1)
            self.say(
                f"the CPU is busy (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs): "
                "using 1 torch thread (--threads N to choose)"
            )

    @property
    def device(self) -> torch.device:
        return self.context.device

    @property
    def amp(self) -> bool:
        """bf16 autocast: asked for and on CUDA."""
        return self.options.amp and self.device.type == "cuda"

    def say(self, text: str) -> None:
        """Print on the main process only."""
        if self.context.is_main:
            print(text, flush=True)

    def timed(self, phase: str, since: float) -> None:
        """Add the time since ``since`` (``time.perf_counter()``) to ``phase``."""
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - since

    def prepare_run(self, name: str, config: TrainingConfig) -> RunDir | None:
        """Make ``OUT/<name>`` ready for a run (:func:`~recognizability.training.run_dir.prepare_run_dir`): a
        folder holding a run is refused unless ``--resume`` (its checkpoint is read and checked against
        ``config`` now) or ``--overwrite``. Each name is prepared once; None when the session writes nothing.
        """
        check_config_can_train(config)
        if config.head.parallel == "sharded" and not self.context.is_distributed:
            raise ValueError(
                "expected --head-parallel sharded under torchrun (the classes are split over its processes), "
                "got a single process started without torchrun; use --head-parallel chunked on one device, "
                "or torchrun --nproc_per_node=N"
            )
        if self.out is None:
            return None
        if name not in self._run_dirs:
            o = self.options
            self._run_dirs[name] = prepare_run_dir(
                self.out / name, resume=o.resume, overwrite=o.overwrite, settings=config,
                writer=self.context.is_main, outputs=_plot_names(),
            )  # fmt: skip
        return self._run_dirs[name]

    def prepare(self, runs: dict[str, TrainingConfig]) -> None:
        """:meth:`prepare_run` for every planned run, before any data is loaded or anything trained."""
        for name, config in runs.items():
            self.prepare_run(name, config)

    def load_data(self, dataset: str, input_size: int) -> RunData:
        """The benchmark's data at ``input_size``: the real trees of ``--data-root``/``--ui-root``, or the
        synthetic stand-in generated once into the cache."""
        began = time.perf_counter()
        o = self.options
        benchmark = resolve_benchmark(
            dataset, o.data_root, o.ui_root, seed=o.synthetic_seed, sizes=o.synthetic_sizes,
            ui_sizes=o.synthetic_ui_sizes,
        )  # fmt: skip
        self.timed("data (generate or find)", began)
        self.say(
            f"data: {benchmark.provenance} {dataset} layout at {benchmark.root}; UI set {benchmark.ui_root}"
        )
        began = time.perf_counter()
        data = load_run_data(benchmark, input_size)
        self.timed("decode images", began)
        self.say(data.summary())
        self.data = data
        return data

    def place(self, model: MethodModules) -> MethodModules:
        """``model`` on this process's device (parameters channels_last on CUDA, as the batches are)."""
        model = model.to(self.device)
        if self.device.type == "cuda":
            for parameter in model.parameters():
                if parameter.dim() == 4:
                    parameter.data = parameter.data.contiguous(memory_format=torch.channels_last)
        return model

    def compiled(self, function: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        """``torch.compile(function)`` with ``--compile``, else ``function``."""
        if not self.options.compile:
            return function
        compiled: Callable[[Tensor], Tensor] = torch.compile(function)
        return compiled

    def start(
        self,
        name: str,
        config: TrainingConfig,
        model: MethodModules,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> TrainingRun:
        """Begin (or, with ``--resume``, continue) the run ``name``: its checkpoints go to ``OUT/<name>``."""
        head = f"{config.head.name}" + ("" if config.head.parallel == "none" else f", {config.head.parallel}")
        self.say(f"--- training {name} (head: {head}; losses: {', '.join(config.losses) or 'head only'})")
        check_batch_size_for_training(model, config.data.batch_size)  # before the first step changes anything
        ui_images = None if self.data is None else len(self.data.ui)
        if config.ui.ui_statistics and config.loss.use_diversion and ui_images is not None and ui_images < 2:
            raise ValueError(
                f"expected >= 2 UI images with --ui-statistics (mu_UI and sigma_UI of Eq. 6 are a mean and "
                f"an unbiased standard deviation), got {ui_images} in --ui-root {str(self.options.ui_root)!r}"
            )
        return TrainingRun(self, name, config, model, optimizer, scheduler)

    def average_gradients(self, *modules: nn.Module) -> None:
        """Mean of the gradients over the torchrun processes (nothing in a single process)."""
        self.context.average_gradients(*modules)

    def average_replicas(self, *modules: nn.Module) -> None:
        """Mean of the gradients and of the running statistics (batch norm's, AdaFace's, CurricularFace's)
        over the torchrun processes, in one all-reduce (nothing in a single process):
        :meth:`DistributedContext.average_replicas`."""
        self.context.average_replicas(*modules)

    def evaluate(self, result: TrainingResult, data: RunData) -> RunReport | None:
        """The benchmark's protocol and the quality comparison (:func:`evaluate_run`); writes
        ``OUT/<name>/report.json`` and the plots. Returns the report (None on processes but the main one)."""
        if not self.context.is_main:
            return None
        began = time.perf_counter()
        training = TrainingSummary(
            result.history, result.seconds, result.resumed_from, str(self.device), self.context.world_size,
            torch.get_num_threads(),
        )  # fmt: skip
        report = evaluate_run(
            result.model, result.config, data, self.device, training, amp=self.amp,
            ui_cluster_pretrained=self.initial_ui_cluster(result.config, data),
        )  # fmt: skip
        self.timed(f"evaluate {result.name}", began)
        if self.out is not None:
            folder = self.out / result.name
            write_report(report, folder / "report.json")
            if self.options.plots:
                try:
                    from .plots import plot_report

                    plot_report(report.to_dict(), folder)
                except ImportError as error:
                    self.say(f"plots skipped: {error}")
        return report

    def initial_ui_cluster(self, config: TrainingConfig, data: RunData) -> UIClusterStatistics | None:
        """Fig. 1 figures of the backbone a run starts from (``config.model``: pretrained weights, or a random
        initialisation) on the training faces; computed once per backbone configuration. None on data without
        severity and hard flags (real datasets)."""
        hard = data.train.hard
        if data.train.severity is None or hard is None or not 0 < int(hard.sum()) < len(hard):
            return None
        key = repr(config.model)
        if key not in self._initial_ui_clusters:
            backbone = build_backbone(config.model).to(self.device)
            self._initial_ui_clusters[key] = backbone_ui_cluster(
                backbone, data.train, data.ui, config.model.input_size, self.device
            )
        return self._initial_ui_clusters[key]

    def finish(self, reports: dict[str, RunReport | None], description: str, provenance: str) -> None:
        """Print the comparison of the runs and the time of each phase, write ``OUT/comparison.json``, and
        leave the process group."""
        done = {name: r for name, r in reports.items() if r is not None}
        if self.context.is_main and done:
            self.timings["total"] = time.perf_counter() - self.began
            self.say(f"\nmeasured on {provenance} data ({description}):")
            self.say(comparison_table(done))
            self.say(
                "rank_1: protocol rank-1 (hard: probes marked hard); *_spearman: with severity (more "
                "negative = better); *_erc_auc: error-versus-reject area (lower = better)"
            )
            figure1 = ui_cluster_table(done)
            if figure1 is not None:
                self.say(
                    "\nthe paper's Fig. 1 on the training faces (d_UI = 1 - cos(v, u); the method assumes "
                    f"hard faces lie near the UI centre u):\n{figure1}"
                )
            if any(r.config.run.mode == "demo" for r in done.values()):
                evidence = evidence_lines()
                if evidence:
                    self.say("\nthe comparison above is one seed on a small test set; " + "\n".join(evidence))
            lines = [f"timing ({os.cpu_count()} CPUs visible, {torch.get_num_threads()} torch threads):"]
            lines += [f"  {phase:<28}{seconds:8.1f} s" for phase, seconds in self.timings.items()]
            for name, report in done.items():
                epochs = len(report.training.history)
                rate = report.training.images_per_second()
                lines.append(f"  {name}: {epochs} epochs, {rate:.0f} training images/s (mean over epochs)")
            self.say("\n".join(lines))
            if self.out is not None:
                self.out.mkdir(parents=True, exist_ok=True)
                runs = {name: r.headline_figures() for name, r in done.items()}
                text = json.dumps({"runs": runs, "seconds": self.timings}, indent=2)
                (self.out / "comparison.json").write_text(text + "\n")
        if self.context.is_distributed:
            torch.distributed.destroy_process_group()
