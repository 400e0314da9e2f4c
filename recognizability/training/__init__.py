"""Training recipes shared by the examples: Table 5 settings, the model of Fig. 2, the epoch loop with the
UI-centre refresh, checkpoint/resume, DDP, protocol evaluation, reports, plots and quality prediction."""

from .checkpoint import epoch_seed, load_checkpoint, save_checkpoint, seed_everything
from .distributed import DistributedContext, init_distributed
from .settings import LOSS_TERMS, LearningRates, TrainingSettings, cpu_demo_settings, paper_settings

__all__ = [
    "LOSS_TERMS",
    "DistributedContext",
    "LearningRates",
    "TrainingSettings",
    "cpu_demo_settings",
    "epoch_seed",
    "init_distributed",
    "load_checkpoint",
    "paper_settings",
    "save_checkpoint",
    "seed_everything",
]
