"""What every figure of the package shares: matplotlib, imported on first use with the headless Agg backend.

matplotlib is optional (``pip install recognizability[plot]``); the run reports
(:mod:`recognizability.training.report.plots`) and the evaluation of folders
(:mod:`recognizability.deploy.evaluate`) draw through :func:`pyplot` alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend (plots work on a headless machine).

    Raises:
        ImportError: matplotlib is not installed, naming the extra that brings it.
    """
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plots need matplotlib: pip install recognizability[plot] (or run with --no-plots)"
        ) from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
