"""Plumbing for the example scripts: helpers the training loop calls, never a loop of their own.

- :class:`Session`: device and torchrun set-up, CPU threads, where outputs go, the data of a run, evaluation
  with ``report.json`` and plots, and the printed comparison of the runs;
- :class:`TrainingRun` (``session.start(...)``): checkpoint after every epoch, exact resume with
  ``--resume``, the history of the run, one log line per epoch;
- :class:`~recognizability.training.run.meter.EpochMeter` (``run.meter(...)``): the progress bar and the
  running mean of every loss term, by name.

The session trusts what it is given: the command line (:func:`~recognizability.training.cli.parse_args`) and
the configuration's constructors have checked it, once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from recognizability._figures import fmr_text
from recognizability._files import write_json
from recognizability.metrics.ui_cluster import UIClusterStatistics

from ..config import TrainingConfig
from ..data import RunData, load_run_data, resolve_benchmark
from ..method import MethodModules, build_backbone
from ..report import (
    RunReport,
    TrainingSummary,
    backbone_ui_cluster,
    comparison_table,
    evaluate_run,
    evidence_lines,
    ui_cluster_table,
    write_report,
)
from ..report.plots import plot_comparison, plot_files, plot_report
from ..report.ui_cluster import has_ui_cluster_ground_truth
from .checkpoint import TrainingCheckpoint, load_checkpoint, save_checkpoint
from .distributed import init_distributed
from .meter import EpochMeter, term_label
from .run_dir import RunDir, prepare_run_dir
from .sharded_heads import checkpoint_states, shard_checkpoint

__all__ = ["RunOptions", "Session", "TrainingResult", "TrainingRun"]


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
        vector: vector formats ("pdf", "svg") written beside each figure's PNG.
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
    vector: tuple[str, ...] = ()


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


#: Figures of an epoch's record that are rates, not loss terms.
_RATES: tuple[str, ...] = ("images_per_second", "steps")


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
                session.resume_threads(payload["extra"].get("threads"), self.checkpoint)
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
        self.session.say(self.epoch_line(epoch, terms, validation))
        if self.checkpoint is not None and self.run_dir is not None:
            # a class-sharded head's shards are gathered whole onto the main process (a collective)
            model_state, optimizer_state = checkpoint_states(self.model, self.optimizer)
            if self.session.context.is_main:
                # --overwrite: the earlier run's files make way only now, for the new run's first checkpoint
                with self.run_dir.replacing_earlier_run():
                    save_checkpoint(
                        self.checkpoint, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                        epoch=epoch + 1, settings=self.config,
                        extra={"history": self.history, "threads": torch.get_num_threads()},
                        model_state=model_state, optimizer_state=optimizer_state,
                    )  # fmt: skip
        self.session.context.barrier()

    def epoch_line(self, epoch: int, terms: dict[str, float], validation: dict[str, float]) -> str:
        """One line for the epoch: the total loss, every other term by its label, validation accuracy and
        speed."""
        shown = [f"{term_label(n)} {v:.3f}" for n, v in terms.items() if n not in ("total", *_RATES)]
        total = f"loss {terms['total']:.3f} ({' '.join(shown)})" if "total" in terms else " ".join(shown)
        return (
            f"epoch {epoch + 1}/{self.config.optim.epochs}: {total} val acc (flipped, "
            f"{self.config.data.validation_degrade_size}px) {validation['accuracy']:.3f} "
            f"[{terms['images_per_second']:.0f} img/s]"
        )

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

    def resume_threads(self, recorded: object, checkpoint: Path | None) -> None:
        """With ``--resume``, train on with the number of torch CPU threads the run was trained with (its
        checkpoint records it): CPU kernels split their sums by thread, so another count gives other last
        bits, and a resumed run would no longer reach bitwise the weights of an uninterrupted one.
        ``--threads N`` wins (and is said to break that)."""
        if not isinstance(recorded, int) or isinstance(recorded, bool) or recorded < 1:
            return  # a checkpoint of an earlier release records no thread count
        if self.options.threads is not None:
            if self.options.threads != recorded:
                self.say(
                    f"{checkpoint} was trained with {recorded} torch threads; --threads "
                    f"{self.options.threads}: the resumed run may differ from an uninterrupted one in the "
                    "last bits"
                )
            return
        if torch.get_num_threads() != recorded:
            torch.set_num_threads(recorded)
            self.say(
                f"using {recorded} torch threads, as {checkpoint} was trained (results on a CPU depend on "
                "the thread count; --threads N to choose)"
            )

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

    def prepare_run(
        self, name: str, config: TrainingConfig, checkpoint: TrainingCheckpoint | None = None
    ) -> RunDir | None:
        """Make ``OUT/<name>`` ready for a run
        (:func:`~recognizability.training.run.run_dir.prepare_run_dir`): a folder holding a run is refused
        unless ``--resume`` (its checkpoint is read and checked against ``config``; ``checkpoint``, when
        given, is that checkpoint already read and checked, by
        :func:`~recognizability.training.cli.parse_args`) or ``--overwrite``. Each name is prepared once; None
        when the session writes nothing."""
        if self.out is None:
            return None
        if name not in self._run_dirs:
            o = self.options
            self._run_dirs[name] = prepare_run_dir(
                self.out / name, resume=o.resume, overwrite=o.overwrite, settings=config,
                writer=self.context.is_main, outputs=plot_files(), resume_checkpoint=checkpoint,
            )  # fmt: skip
        return self._run_dirs[name]

    def prepare(
        self, runs: dict[str, TrainingConfig], checkpoints: dict[str, TrainingCheckpoint] | None = None
    ) -> None:
        """:meth:`prepare_run` for every planned run, before any data is loaded or anything trained
        (``checkpoints``: the ones :func:`~recognizability.training.cli.parse_args` read for ``--resume``)."""
        for name, config in runs.items():
            self.prepare_run(name, config, (checkpoints or {}).get(name))

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
                    plot_report(report.to_dict(), folder, vector=self.options.vector)
                except ImportError as error:
                    self.say(f"plots skipped: {error}")
        return report

    def initial_ui_cluster(self, config: TrainingConfig, data: RunData) -> UIClusterStatistics | None:
        """Fig. 1 figures of the backbone a run starts from (``config.model``: pretrained weights, or a random
        initialisation) on the training faces; computed once per backbone configuration. None on data without
        severity and hard flags (real datasets)."""
        if not has_ui_cluster_ground_truth(data.train):
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
            fmrs = [next(iter(f.erc_auc), None) for r in done.values() for f in r.quality.values()]
            fmr = next((fmr_text(value) for value in fmrs if value is not None), "?")
            self.say(
                "rank_1: protocol rank-1 (hard: probes marked hard); *_spearman: with severity (more "
                f"negative = better); *_erc_auc: error-versus-reject area at FMR {fmr} (lower = better; the "
                "left panel of each run's erc.png)"
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
            threads = torch.get_num_threads()
            lines = [f"timing ({os.cpu_count()} CPUs visible, {threads} torch thread{'s' * (threads != 1)}):"]
            lines += [f"  {phase:<28}{seconds:8.1f} s" for phase, seconds in self.timings.items()]
            for name, report in done.items():
                epochs = len(report.training.history)
                rate = report.training.images_per_second()
                lines.append(f"  {name}: {epochs} epochs, {rate:.0f} training images/s (mean over epochs)")
            self.say("\n".join(lines))
            if self.out is not None:
                self.say(self.write_comparison(done))
        if self.context.is_distributed:
            torch.distributed.destroy_process_group()

    def write_comparison(self, done: dict[str, RunReport]) -> str:
        """Write ``OUT/comparison.json`` (headline figures and timings) and, with plots,
        ``OUT/comparison.png`` (the runs' CMC on one set of axes); returns the lines that say where every
        output of the runs is."""
        assert self.out is not None
        self.out.mkdir(parents=True, exist_ok=True)
        runs = {name: r.headline_figures() for name, r in done.items()}
        write_json(self.out / "comparison.json", {"runs": runs, "seconds": self.timings})
        lines = [f"outputs in {self.out}/:", "  comparison.json          headline figures and timings"]
        if self.options.plots:
            try:
                written = plot_comparison(
                    {name: r.to_dict() for name, r in done.items()}, self.out / "comparison.png",
                    vector=self.options.vector,
                )  # fmt: skip
                names = ", ".join(p.name for p in written)
                lines.append(f"  {names:<24} {' against '.join(done)}: CMC on one set of axes")
            except ImportError as error:
                lines.append(f"  (figures skipped: {error})")
        for name in done:
            folder = self.out / name
            files = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
            lines.append(f"  {name}/: {', '.join(files)}")
        checkpoint = self.out / next(reversed(list(done))) / "last.pt"
        lines.append(
            f"redraw a run's figures: recognizability-plots {self.out}/<run>/report.json; the paper's Fig. 5 "
            f"and 6 for a run: recognizability figures --checkpoint {checkpoint} --out DIR"
        )
        return "\n".join(lines)
