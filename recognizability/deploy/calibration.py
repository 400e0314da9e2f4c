"""A quality score with a meaning: ``xi_hat`` mapped to an integer 0-100 by a monotone calibration.

``quality = round(100 * P(success | xi_hat))``, where *success* is a mated comparison of a face of that
``xi_hat`` with a good reference of the same person scoring at or above the comparison threshold set at a
stated false match rate (FMR, 1e-3 by default). The probability is fitted on a labelled calibration set by
isotonic regression (:func:`isotonic_fit`: ``scipy.optimize.isotonic_regression``), so it never decreases as
``xi_hat`` rises; it is stored as knots and read by linear interpolation, constant beyond the end knots, so
the score is bounded, monotone and an integer in [0, 100] as ISO/IEC 29794-1 asks.

On the calibration set (:func:`fit_calibration`):

- the *reference* of each gallery identity is its gallery image of highest ``xi_hat``;
- every probe with a reference gives one mated comparison (cosine of the L2-normalised embeddings with its
  reference) and one non-mated comparison with every other reference;
- the comparison threshold is the library's TAR@FAR rule on the non-mated scores
  (:func:`recognizability.metrics.tar_at_far`);
- the error-versus-discard characteristic (EDC, ISO/IEC 29794-1, threshold fixed once) of the calibrated
  score is read at every integer quality threshold with :func:`recognizability.metrics.error_versus_reject`,
  pair quality = min of the probe's and the reference's. :meth:`QualityCalibration.threshold_for` answers
  "which quality threshold gives FNMR <= x at this FMR, and what share of faces does it discard?" from it.

The calibration shipped by ``recognizability calibrate`` without a labelled folder is fitted on the synthetic
benchmark: it is a stand-in; refit it on faces like yours (docs/deployment.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.optimize import isotonic_regression
from torch import Tensor

from recognizability import metrics as M
from recognizability._deprecation import deprecated_aliases

__all__ = [
    "CALIBRATION_FORMAT",
    "QualityCalibration",
    "ThresholdGuidance",
    "default_calibration_path",
    "fit_calibration",
    "isotonic_fit",
    "mated_comparisons",
]

#: Version of the JSON form of :class:`QualityCalibration`.
CALIBRATION_FORMAT = 1


def default_calibration_path(checkpoint: str | Path) -> Path:
    """Where every command reads a ``--checkpoint``'s calibration, and ``calibrate`` and ``fit-quality`` write
    it: beside it, ``<stem>.calibration.json``."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}.calibration.json")


def isotonic_fit(
    values: Sequence[float] | NDArray[Any], weights: Sequence[float] | NDArray[Any] | None = None
) -> NDArray[np.float64]:
    """Weighted least-squares non-decreasing fit of ``values`` (in their given order): isotonic regression.

    ``scipy.optimize.isotonic_regression`` (pool adjacent violators, in compiled code), after the checks
    below; float64.

    Args:
        values: (N,) the responses, ordered by the predictor.
        weights: (N,) positive weights (default all ones).

    Returns:
        (N,) float64 fitted values, non-decreasing.

    Raises:
        ValueError: ``weights`` of another length, non-finite values, or weights that are not finite and
            positive.
    """
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != y.shape:
        raise ValueError(f"expected weights of shape ({y.size},), got shape {w.shape}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(w)) and np.all(w > 0)):
        raise ValueError("expected finite values and finite positive weights")
    if y.size == 0:
        return y
    fitted: NDArray[np.float64] = np.asarray(isotonic_regression(y, weights=w).x, dtype=np.float64)
    return fitted


@dataclass(frozen=True)
class ThresholdGuidance:
    """What a quality threshold does on the calibration set (read from its EDC).

    Attributes:
        quality_threshold: keep faces with ``quality >= quality_threshold``.
        discarded_share: share of the calibration set's mated comparisons discarded by it.
        fnmr: FNMR of the kept mated comparisons at the comparison threshold of the calibration's FMR.
        target_fnmr: the FNMR asked for.
        fmr: the FMR the comparison threshold was set at.
    """

    quality_threshold: int
    discarded_share: float
    fnmr: float
    target_fnmr: float
    fmr: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QualityCalibration:
    """Monotone map ``xi_hat -> quality`` (integer 0-100) and the calibration set's EDC.

    Attributes:
        xi_knots: increasing ``xi_hat`` knots (K,).
        probability_knots: non-decreasing success probabilities at the knots (K,), in [0, 1].
        fmr: the FMR of the comparison threshold.
        comparison_threshold: cosine similarity threshold at ``fmr`` on the calibration set.
        edc_quality: integer quality thresholds 0, 1, ... of the EDC (Q,).
        edc_discarded: share of mated comparisons with pair quality below each threshold (Q,).
        edc_fnmr: FNMR of the remaining mated comparisons at ``comparison_threshold`` (Q,).
        mated: number of mated comparisons; non_mated: number of non-mated comparisons.
        source: where the calibration set came from (a folder, or the synthetic benchmark and its seed).
        synthetic: True when the calibration set is synthetic (then the scores are a stand-in).
    """

    xi_knots: tuple[float, ...]
    probability_knots: tuple[float, ...]
    fmr: float
    comparison_threshold: float
    edc_quality: tuple[int, ...]
    edc_discarded: tuple[float, ...]
    edc_fnmr: tuple[float, ...]
    mated: int
    non_mated: int
    source: str
    synthetic: bool

    def __post_init__(self) -> None:
        x = np.asarray(self.xi_knots, dtype=np.float64)
        p = np.asarray(self.probability_knots, dtype=np.float64)
        if x.ndim != 1 or x.size < 1 or x.shape != p.shape:
            raise ValueError(
                f"expected xi_knots and probability_knots of the same length >= 1, got {x.size} and {p.size}"
            )
        if not (np.all(np.isfinite(x)) and np.all(np.diff(x) > 0)):
            raise ValueError("expected xi_knots finite and strictly increasing")
        if not (np.all(p >= 0) and np.all(p <= 1) and np.all(np.diff(p) >= 0)):
            raise ValueError("expected probability_knots non-decreasing in [0, 1]")
        if not 0 < self.fmr < 1:
            raise ValueError(f"expected fmr in (0, 1), got {self.fmr}")
        if not len(self.edc_quality) == len(self.edc_discarded) == len(self.edc_fnmr):
            raise ValueError("expected edc_quality, edc_discarded and edc_fnmr of the same length")

    def probability(self, xi_hat: Tensor | Sequence[float] | NDArray[Any]) -> NDArray[np.float64]:
        """Estimated success probability of each ``xi_hat`` (same shape), float64 in [0, 1]."""
        x = _as_float64(xi_hat, "xi_hat")
        probability: NDArray[np.float64] = np.interp(
            x, np.asarray(self.xi_knots), np.asarray(self.probability_knots)
        ).astype(np.float64)
        return probability

    def quality(self, xi_hat: Tensor | Sequence[float] | NDArray[Any]) -> NDArray[np.int64]:
        """Calibrated quality ``round(100 * probability)``: int64 in [0, 100], non-decreasing in xi_hat."""
        return np.rint(100.0 * self.probability(xi_hat)).astype(np.int64)

    def threshold_for(self, fnmr: float) -> ThresholdGuidance:
        """The lowest quality threshold whose kept mated comparisons reach FNMR <= ``fnmr`` at this FMR.

        Raises:
            ValueError: ``fnmr`` outside [0, 1), or no threshold reaches it on the calibration set (the
                message gives the lowest FNMR reachable).
        """
        if isinstance(fnmr, bool) or not isinstance(fnmr, (int, float)) or not 0 <= fnmr < 1:
            raise ValueError(f"expected fnmr to be a number in [0, 1), got {fnmr!r}")
        for quality, discarded, error in zip(
            self.edc_quality, self.edc_discarded, self.edc_fnmr, strict=True
        ):
            if error <= fnmr:
                return ThresholdGuidance(quality, discarded, error, float(fnmr), self.fmr)
        best = min(self.edc_fnmr) if self.edc_fnmr else math.nan
        raise ValueError(
            f"expected a target FNMR the calibration set can reach at FMR {self.fmr:g}, got {fnmr:g}; the "
            f"lowest FNMR on it is {best:.4f} (ask for at least that)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (lists for the tuples), with ``format``."""
        out = asdict(self)
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
        return {"format": CALIBRATION_FORMAT, **out}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityCalibration:
        """Inverse of :meth:`to_dict`; ValueError naming a missing key or a wrong format."""
        if not isinstance(data, dict):
            raise TypeError(f"expected a calibration dict, got {type(data).__name__}")
        if data.get("format") != CALIBRATION_FORMAT:
            raise ValueError(f"expected calibration format {CALIBRATION_FORMAT}, got {data.get('format')!r}")
        names = [f for f in cls.__dataclass_fields__]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"expected a calibration with keys {names}, missing {missing}")
        return cls(
            xi_knots=tuple(float(x) for x in data["xi_knots"]),
            probability_knots=tuple(float(x) for x in data["probability_knots"]),
            fmr=float(data["fmr"]),
            comparison_threshold=float(data["comparison_threshold"]),
            edc_quality=tuple(int(x) for x in data["edc_quality"]),
            edc_discarded=tuple(float(x) for x in data["edc_discarded"]),
            edc_fnmr=tuple(float(x) for x in data["edc_fnmr"]),
            mated=int(data["mated"]),
            non_mated=int(data["non_mated"]),
            source=str(data["source"]),
            synthetic=bool(data["synthetic"]),
        )

    @classmethod
    def from_json(cls, text: str) -> QualityCalibration:
        return cls.from_dict(json.loads(text))


def _as_float64(values: Tensor | Sequence[float] | NDArray[Any], name: str) -> NDArray[np.float64]:
    if isinstance(values, Tensor):
        array = values.detach().cpu().to(torch.float64).numpy()
    else:
        array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"expected finite {name}, got non-finite values")
    return array


def mated_comparisons(
    probe_embeddings: Tensor,
    probe_labels: Tensor,
    probe_xi: Tensor,
    gallery_embeddings: Tensor,
    gallery_labels: Tensor,
    gallery_xi: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Comparisons of probes with one good reference per gallery identity (its image of highest ``xi_hat``).

    Args:
        probe_embeddings: (P, D); probe_labels: (P,) int; probe_xi: (P,).
        gallery_embeddings: (G, D); gallery_labels: (G,) int >= 0; gallery_xi: (G,).

    Returns:
        mated scores (M,), their probes' indices (M,) (probes whose identity has a reference), the
        reference index (into the gallery) of each mated comparison (M,), and non-mated scores (N,)
        (every probe with every reference of another identity). Scores are cosine similarities, float64.
    """
    pv = torch.nn.functional.normalize(probe_embeddings.detach().to(torch.float64).cpu(), dim=1)
    gv = torch.nn.functional.normalize(gallery_embeddings.detach().to(torch.float64).cpu(), dim=1)
    gl, gx = gallery_labels.cpu(), gallery_xi.detach().cpu().to(torch.float64)
    pl = probe_labels.cpu()
    identities = torch.unique(gl)
    # reference of each identity: its gallery image of highest xi_hat (first one among ties)
    order = torch.argsort(-gx, stable=True)
    best: dict[int, int] = {}
    for index in order.tolist():
        best.setdefault(int(gl[index]), index)
    references = torch.tensor([best[int(i)] for i in identities.tolist()], dtype=torch.int64)
    scores = pv @ gv[references].T  # (P, I)
    same = pl[:, None] == identities[None, :]
    has_mate = same.any(1)
    mated_probe = torch.nonzero(has_mate).squeeze(1)
    mated_column = same[mated_probe].to(torch.int64).argmax(1)
    mated = scores[mated_probe, mated_column]
    non_mated = scores[~same]
    return mated, mated_probe, references[mated_column], non_mated


def fit_calibration(
    probe_embeddings: Tensor,
    probe_labels: Tensor,
    probe_xi: Tensor,
    gallery_embeddings: Tensor,
    gallery_labels: Tensor,
    gallery_xi: Tensor,
    *,
    fmr: float = 1e-3,
    source: str,
    synthetic: bool,
) -> QualityCalibration:
    """Fit the quality calibration on a labelled probe/gallery set (see the module docstring).

    Args:
        probe_embeddings, probe_labels, probe_xi, gallery_embeddings, gallery_labels, gallery_xi: as in
            :func:`mated_comparisons`.
        fmr: FMR of the comparison threshold, in (0, 1); the set needs at least ``1 / fmr`` non-mated
            comparisons.
        source: description of the calibration set (stored). synthetic: whether it is synthetic (stored).

    Raises:
        ValueError: too few comparisons for the FMR, or no mated comparison.
    """
    if isinstance(fmr, bool) or not isinstance(fmr, (int, float)) or not 0 < fmr < 1:
        raise ValueError(f"expected fmr to be a number in (0, 1), got {fmr!r}")
    mated, probes, references, non_mated = mated_comparisons(
        probe_embeddings, probe_labels, probe_xi, gallery_embeddings, gallery_labels, gallery_xi
    )
    if mated.numel() < 2:
        raise ValueError(f"expected at least 2 probes whose identity is in the gallery, got {mated.numel()}")
    needed = math.ceil(1.0 / fmr)
    if non_mated.numel() < needed:
        raise ValueError(
            f"expected at least 1/fmr = {needed} non-mated comparisons to set a threshold at FMR {fmr:g}, "
            f"got {non_mated.numel()}; use more identities or a larger fmr"
        )
    threshold = M.tar_at_far(mated, non_mated, float(fmr)).threshold
    success = (mated >= threshold).to(torch.float64).numpy()
    xi = probe_xi.detach().cpu().to(torch.float64)[probes].numpy()
    xi_knots, probability_knots = _isotonic_knots(xi, success)
    partial = QualityCalibration(
        xi_knots, probability_knots, float(fmr), float(threshold), (), (), (), int(mated.numel()),
        int(non_mated.numel()), source, synthetic,
    )  # fmt: skip
    # EDC of the calibrated score, read at every integer quality threshold
    gallery_q = partial.quality(gallery_xi)
    probe_q = partial.quality(probe_xi)
    pair_q = np.minimum(probe_q[probes.numpy()], gallery_q[references.numpy()])
    levels: list[int] = []
    fractions: list[float] = []
    for level in range(101):
        share = float(np.count_nonzero(pair_q < level)) / pair_q.size
        if share >= 1.0:
            break
        if fractions and share == fractions[-1]:
            continue  # same discard as the previous level: keep the lowest threshold
        levels.append(level)
        fractions.append(share)
    scores = torch.cat([mated, non_mated])
    is_genuine = torch.cat(
        [torch.ones_like(mated, dtype=torch.bool), torch.zeros_like(non_mated, dtype=torch.bool)]
    )
    quality = torch.cat([torch.from_numpy(pair_q).to(torch.float64), torch.zeros_like(non_mated)])
    edc = M.error_versus_reject(scores, is_genuine, quality, float(fmr), fractions, threshold="fixed")
    return QualityCalibration(
        xi_knots, probability_knots, float(fmr), float(threshold), tuple(levels),
        tuple(float(x) for x in edc.realised_reject_fractions), tuple(float(x) for x in edc.fnmr),
        int(mated.numel()), int(non_mated.numel()), source, synthetic,
    )  # fmt: skip


def _isotonic_knots(
    xi: NDArray[np.float64], success: NDArray[np.float64]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Knots of the isotonic fit of ``success`` on ``xi``: each constant block's first and last ``xi``.

    Tied ``xi`` are pooled first (one point weighted by their count), so the fit is a function of ``xi``.
    """
    unique, inverse, counts = np.unique(xi, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=success) / counts
    fitted = isotonic_fit(means, counts.astype(np.float64))
    xs: list[float] = []
    ps: list[float] = []
    start = 0
    for end in range(1, fitted.size + 1):
        if end == fitted.size or fitted[end] != fitted[start]:
            for x in (unique[start], unique[end - 1]):
                if not xs or x > xs[-1]:
                    xs.append(float(x))
                    ps.append(float(np.clip(fitted[start], 0.0, 1.0)))
            start = end
    return tuple(xs), tuple(ps)


__getattr__ = deprecated_aliases(
    __name__,
    {"pool_adjacent_violators": "isotonic_fit"},
    globals(),
    advice={"pool_adjacent_violators": "use isotonic_fit (scipy.optimize.isotonic_regression underneath)"},
)
