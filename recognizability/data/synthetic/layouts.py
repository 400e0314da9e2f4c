"""Writers of the synthetic TinyFace-, SCface-, QMUL-SurvFace-like, UI and clean high-resolution (HR) trees.

Every writer lists its images as :class:`ImageJob` records (relative path, identity, how to degrade), renders
them in batches (:func:`render_jobs`), writes PNG files with the deterministic encoder, the protocol's
``.mat`` files (cells of file names as ``(N, 1)`` object arrays, ids as ``(N, 1)`` uint16, the real variable
names), ``synthetic_metadata.csv`` and ``SYNTHETIC.txt``. File and folder names follow the real layouts
(``datasets.md``) with ``.png`` for ``.jpg``.

Random streams (``identity_rng(seed, ...)`` keys): identities of each role of each layout come from their own
stream, so no identity appears in two roles (UI identities appear nowhere else); image ``k`` of an identity
has its own generator, so an image does not change when unrelated sizes change.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.io
from numpy.typing import NDArray

from ..._version import __version__
from ..metadata import METADATA_FILENAME, SYNTHETIC_MARKER
from .camera import degrade_images
from .degrade import HARD_THRESHOLD, DegradationParameters, sample_degradation, severity
from .identities import IDENTITY_SCHEMA, ParameterTable, identity_rng, sample_identity
from .png import write_png
from .render import RENDER_SIZE, render_batch
from .sizes import HRSizes, SCFaceSizes, SurvFaceSizes, TinyFaceSizes, UISizes
from .variation import VARIATION_SCHEMA, sample_variation
from .version import GENERATOR_VERSION

__all__ = [
    "IMAGE_COLUMNS",
    "METADATA_COLUMNS",
    "METADATA_FILENAME",
    "PROVENANCE_FILENAME",
    "ImageJob",
    "Regime",
    "render_jobs",
    "write_hr",
    "write_scface",
    "write_survface",
    "write_tinyface",
    "write_ui",
]

#: The provenance marker every tree carries at its root (one constant: :data:`..metadata.SYNTHETIC_MARKER`).
PROVENANCE_FILENAME = SYNTHETIC_MARKER
#: Per-image columns after the degradation parameters: pose in degrees, expression, occluders (0/1; glasses:
#: 0 none, 1 clear, 2 dark).
IMAGE_COLUMNS: tuple[str, ...] = (
    "yaw",
    "pitch",
    "roll",
    "smile",
    "mouth_open",
    "eye_open",
    "glasses",
    "hat",
    "mask",
    "hand",
)
METADATA_COLUMNS: tuple[str, ...] = (
    "path",
    "identity",
    "severity",
    "hard",
    *DegradationParameters.column_names(),
    *IMAGE_COLUMNS,
)
_BATCH = 64

# Stream keys: identities of (layout, role); images use key _IMAGE_TAG first; allocation uses _ALLOCATION_TAG.
_STREAMS = {
    ("tinyface", "train"): 10,
    ("tinyface", "test"): 11,
    ("tinyface", "distractor"): 12,
    ("scface", "subject"): 20,
    ("survface", "train"): 30,
    ("survface", "watchlist"): 31,
    ("survface", "unmated"): 32,
    ("survface", "verification"): 33,
    ("ui", "face"): 40,
    ("ui", "nonface"): 41,
    ("hr", "identity"): 50,
}
_IMAGE_TAG = 1
_ALLOCATION_TAG = 2
_CAMERA_TAG = 3


@dataclass(frozen=True)
class Regime:
    """How one image is rendered and degraded.

    Attributes:
        level: range of the latent degradation level (uniform), or ``None`` for no degradation (a clean
            ``clean_size`` x ``clean_size`` image).
        min_size, max_size: output height range in pixels (see :func:`sample_degradation`).
        occlusion_probability: chance of an occluder.
        frontal: mugshot pose and light.
        face_present: ``False`` renders a non-face crop.
        camera: camera key (0 = none) whose fixed colour cast multiplies the image's.
        clean_size: side of an undegraded image (``level=None``); sides other than the render grid's are
            reached by the degradation step's plain resampling (no blur, noise or quantisation).
    """

    level: tuple[float, float] | None = (0.0, 1.0)
    min_size: int = 8
    max_size: int = 32
    occlusion_probability: float = 0.2
    frontal: bool = False
    face_present: bool = True
    camera: int = 0
    clean_size: int = RENDER_SIZE


@dataclass(frozen=True)
class ImageJob:
    """One image to write: ``path`` relative to the tree root (posix), the CSV ``identity``, and what to
    draw."""

    path: str
    identity: str
    stream: int
    identity_index: int
    image_index: int
    regime: Regime


def _allocate(total: int, groups: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Split ``total`` items over ``groups`` groups, each at least 1 (requires total >= groups)."""
    if groups == 0:
        return np.zeros(0, dtype=np.int64)
    extra = rng.multinomial(total - groups, np.full(groups, 1.0 / groups))
    return np.asarray(extra + 1, dtype=np.int64)


#: Render grid for images reduced to 32 pixels or fewer (see ``render_batch``); larger undegraded images
#: use 112 (or their own side, above 112).
_LOW_RESOLUTION_RENDER = 48


def _render_size(job: ImageJob) -> int:
    regime = job.regime
    if regime.level is not None or regime.clean_size <= 32:
        return _LOW_RESOLUTION_RENDER
    return max(RENDER_SIZE, regime.clean_size)


def _batches(jobs: Sequence[ImageJob]) -> Iterator[Sequence[ImageJob]]:
    """Consecutive runs of at most _BATCH jobs sharing a render size (job order is kept)."""
    start = 0
    while start < len(jobs):
        size = _render_size(jobs[start])
        stop = start + 1
        while stop < len(jobs) and stop - start < _BATCH and _render_size(jobs[stop]) == size:
            stop += 1
        yield jobs[start:stop]
        start = stop


#: Render batches handed to a worker process at a time (``workers > 1``).
_BATCHES_PER_TASK = 8


def render_jobs(root: Path, seed: int, jobs: Sequence[ImageJob], workers: int = 1) -> list[list[str]]:
    """Render, degrade and write ``jobs`` under ``root``; return their metadata rows (see
    :data:`METADATA_COLUMNS`), in job order.

    ``workers > 1`` renders in that many processes. The batches are cut exactly as in one process (and an
    image does not depend on the others of its batch), so the files are byte-identical for any ``workers``.
    """
    batches = [list(batch) for batch in _batches(jobs)]
    if workers <= 1 or len(batches) <= 1:
        return _render_batches(root, seed, batches)
    tasks = [batches[i : i + _BATCHES_PER_TASK] for i in range(0, len(batches), _BATCHES_PER_TASK)]
    rows: list[list[str]] = []
    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold torch threads
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        for part in pool.map(_render_batches, [root] * len(tasks), [seed] * len(tasks), tasks):
            rows.extend(part)
    return rows


def _render_batches(root: Path, seed: int, batches: Sequence[Sequence[ImageJob]]) -> list[list[str]]:
    """Render, degrade and write each batch of jobs; return their metadata rows in order."""
    rows: list[list[str]] = []
    made: set[Path] = set()
    identity_cache: dict[tuple[int, int], dict[str, float | list[float]]] = {}
    camera_cache: dict[int, list[float]] = {}
    for batch in batches:
        identity_rows, variation_rows, degradations, rngs = [], [], [], []
        for job in batch:
            key = (job.stream, job.identity_index)
            if len(identity_cache) > 4096:  # jobs come grouped by identity: keep memory flat at full scale
                identity_cache.clear()
            if key not in identity_cache:
                identity_cache[key] = sample_identity(identity_rng(seed, job.stream, job.identity_index))
            identity_rows.append(identity_cache[key])
            rng = identity_rng(seed, _IMAGE_TAG, job.stream, job.identity_index, job.image_index)
            regime = job.regime
            variation = sample_variation(
                rng,
                face_present=regime.face_present,
                occlusion_probability=regime.occlusion_probability,
                frontal=regime.frontal,
            )
            if regime.camera:
                if regime.camera not in camera_cache:
                    camera_cache[regime.camera] = list(
                        identity_rng(seed, _CAMERA_TAG, regime.camera).uniform(0.85, 1.15, 3)
                    )
                cast = variation["color_cast"]
                assert isinstance(cast, list)
                variation["color_cast"] = [
                    c * g for c, g in zip(cast, camera_cache[regime.camera], strict=True)
                ]
            variation_rows.append(variation)
            if regime.level is None:
                degradations.append(DegradationParameters.none(regime.clean_size, regime.clean_size))
            else:
                level = float(rng.uniform(*regime.level))
                degradations.append(
                    sample_degradation(rng, level, min_size=regime.min_size, max_size=regime.max_size)
                )
            rngs.append(rng)
        identities = ParameterTable.from_rows(identity_rows, IDENTITY_SCHEMA)
        variations = ParameterTable.from_rows(variation_rows, VARIATION_SCHEMA)
        renders, occlusion = render_batch(identities, variations, size=_render_size(batch[0]))
        degradations = [
            replace(d, occlusion=round(float(o), 6)) for d, o in zip(degradations, occlusion, strict=True)
        ]
        images = degrade_images(renders, degradations, rngs)
        columns = {
            name: np.array([getattr(d, name) for d in degradations], dtype=np.float64)
            for name in (
                "height",
                "width",
                "gaussian_sigma",
                "motion_length",
                "noise_sigma",
                "quantisation_levels",
                "occlusion",
                "jpeg_quality",
                "upsample",
            )
        }
        severities = severity(**columns)
        pose = np.degrees(np.stack([variations.column(name) for name in ("yaw", "pitch", "roll")], axis=1))
        expression = {name: variations.column(name) for name in ("smile", "mouth_open", "eye_open")}
        glasses = identities.column("glasses")
        worn = {name: variations.column(name) for name in ("hat", "mask", "hand")}
        extras = [
            [f"{a:.3f}" for a in angles]
            + [f"{column[i]:.3f}" for column in expression.values()]
            + [str(int(glasses[i]))]
            + [str(int(column[i, 0])) for column in worn.values()]
            for i, angles in enumerate(pose.tolist())
        ]
        for job, image, d, exact, extra in zip(
            batch, images, degradations, severities.tolist(), extras, strict=True
        ):
            s = round(exact, 6)  # the value written; ``hard`` is decided on it so the CSV is self-consistent
            target = root / job.path
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            write_png(target, image)
            rows.append(
                [
                    job.path,
                    job.identity,
                    f"{s:.6f}",
                    "1" if s >= HARD_THRESHOLD else "0",
                    str(d.height),
                    str(d.width),
                    f"{d.gaussian_sigma:.6f}",
                    f"{d.motion_length:.6f}",
                    f"{d.motion_angle:.6f}",
                    f"{d.noise_sigma:.6f}",
                    str(d.quantisation_levels),
                    f"{d.occlusion:.6f}",
                    str(d.jpeg_quality),
                    f"{d.upsample:.3f}",
                    *extra,
                ]
            )
    return rows


def _write_metadata(root: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(METADATA_COLUMNS)
    writer.writerows(rows)
    (root / METADATA_FILENAME).write_bytes(buffer.getvalue().encode("utf-8"))


def _write_provenance(root: Path, layout: str, seed: int, sizes: object) -> None:
    text = (
        "SYNTHETIC DATA - not a real face dataset.\n"
        f"Written by recognizability.data.synthetic (recognizability {__version__}).\n"
        f"generator version: {GENERATOR_VERSION}\n"
        f"layout: {layout}\nseed: {seed}\nsizes: {sizes!r}\n"
        "Procedurally rendered faces in the real dataset's layout (.png for .jpg).\n"
        "A stand-in for the real benchmark: every figure obtained on it must be reported as synthetic\n"
        "and never compared with published results.\n"
        f"Per-image ground truth: {METADATA_FILENAME}\n"
        f"(severity in [0, 1]; hard = severity >= {HARD_THRESHOLD}).\n"
    )
    (root / PROVENANCE_FILENAME).write_bytes(text.encode("utf-8"))


def _cell(names: Sequence[str], columns: int = 1) -> NDArray[np.object_]:
    """An object array scipy.io.savemat writes as a MATLAB cell of char arrays, shape (N/columns, columns)."""
    cell = np.empty((len(names) // columns, columns), dtype=object)
    for i, name in enumerate(names):
        cell[i // columns, i % columns] = name
    return cell


def _savemat(path: Path, variables: dict[str, NDArray[np.generic]]) -> None:
    """``scipy.io.savemat`` with the header's creation date and platform replaced by a fixed text
    (determinism)."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, format="5", do_compression=False, oned_as="column")
    data = bytearray(buffer.getvalue())
    data[:116] = b"MATLAB 5.0 MAT-file, written by recognizability.data.synthetic".ljust(116, b" ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


def _finish(
    root: Path, layout: str, seed: int, sizes: object, jobs: Sequence[ImageJob], workers: int
) -> None:
    rows = render_jobs(root, seed, jobs, workers)
    _write_metadata(root, rows)
    _write_provenance(root, layout, seed, sizes)


def write_tinyface(root: Path, seed: int, sizes: TinyFaceSizes, workers: int = 1) -> None:
    """TinyFace-like tree: ``Training_Set/<id>/<id>_<k>.png``,
    ``Testing_Set/{Probe,Gallery_Match,Gallery_Distractor}/
    <id>_<k>.png`` and ``Testing_Set/{gallery_match,probe}_img_ID_pairs.mat``.

    PersonIDs are integers: training 1..N, test identities after them, distractor identities after those. The
    .mat ids are each test identity's rank (from 1) in sorted PersonID order, as in the real files. Every
    image's latent degradation level is uniform in [0, 1] (sizes 8-32 pixels, mean about 20 x 16).
    """
    rng = identity_rng(seed, _ALLOCATION_TAG, _STREAMS[("tinyface", "test")])
    regime = Regime(level=(0.0, 1.0))
    jobs: list[ImageJob] = []
    train_stream = _STREAMS[("tinyface", "train")]
    for i, count in enumerate(_allocate(sizes.train_images, sizes.train_identities, rng)):
        pid = str(i + 1)
        for k in range(1, int(count) + 1):
            jobs.append(ImageJob(f"Training_Set/{pid}/{pid}_{k}.png", pid, train_stream, i, k, regime))

    test_stream = _STREAMS[("tinyface", "test")]
    first = sizes.train_identities + 1
    gallery_counts = _allocate(sizes.gallery_images, sizes.test_identities, rng)
    with_probe = np.sort(rng.permutation(sizes.test_identities)[: sizes.probe_identities])
    probe_counts = np.zeros(sizes.test_identities, dtype=np.int64)
    probe_counts[with_probe] = _allocate(sizes.probe_images, sizes.probe_identities, rng)
    probe_names: list[str] = []
    probe_ids: list[int] = []
    gallery_names: list[str] = []
    gallery_ids: list[int] = []
    for i in range(sizes.test_identities):
        pid = str(first + i)
        k = 0
        for _ in range(int(probe_counts[i])):
            k += 1
            probe_names.append(f"{pid}_{k}.png")
            probe_ids.append(i + 1)
            jobs.append(ImageJob(f"Testing_Set/Probe/{pid}_{k}.png", pid, test_stream, i, k, regime))
        for _ in range(int(gallery_counts[i])):
            k += 1
            gallery_names.append(f"{pid}_{k}.png")
            gallery_ids.append(i + 1)
            jobs.append(ImageJob(f"Testing_Set/Gallery_Match/{pid}_{k}.png", pid, test_stream, i, k, regime))

    distractor_stream = _STREAMS[("tinyface", "distractor")]
    first = sizes.train_identities + sizes.test_identities + 1
    n_distractor_ids = (sizes.distractor_images + 1) // 2
    for i, count in enumerate(_allocate(sizes.distractor_images, n_distractor_ids, rng)):
        pid = str(first + i)
        for k in range(1, int(count) + 1):
            path = f"Testing_Set/Gallery_Distractor/{pid}_{k}.png"
            jobs.append(ImageJob(path, pid, distractor_stream, i, k, regime))

    # Test PersonIDs are consecutive integers, so rank in sorted order = i + 1.
    _savemat(
        root / "Testing_Set/gallery_match_img_ID_pairs.mat",
        {
            "gallery_set": _cell(gallery_names),
            "gallery_ids": np.array(gallery_ids, dtype=np.uint16).reshape(-1, 1),
        },
    )
    _savemat(
        root / "Testing_Set/probe_img_ID_pairs.mat",
        {"probe_set": _cell(probe_names), "probe_ids": np.array(probe_ids, dtype=np.uint16).reshape(-1, 1)},
    )
    _finish(root, "tinyface", seed, sizes, jobs, workers)


#: Latent degradation level range per SCface distance (distance 1 = farthest = most degraded).
SCFACE_DISTANCE_LEVELS: dict[int, tuple[float, float]] = {1: (0.6, 1.0), 2: (0.3, 0.7), 3: (0.0, 0.4)}


def write_scface(root: Path, seed: int, sizes: SCFaceSizes, workers: int = 1) -> None:
    """SCface-like tree: ``mugshot_frontal_cropped_all/<sss>_frontal.png`` (112 x 112, undegraded, frontal)
    and ``surveillance_cameras_distance_<d>/cam_<c>/<sss>_cam<c>_<d>.png`` for cameras 1..``cameras`` and d =
    1, 2, 3.

    Each camera has a fixed colour cast; the degradation level range depends on the distance
    (:data:`SCFACE_DISTANCE_LEVELS`).
    """
    stream = _STREAMS[("scface", "subject")]
    mugshot = Regime(level=None, occlusion_probability=0.0, frontal=True)
    jobs: list[ImageJob] = []
    for s in range(sizes.subjects):
        sss = f"{s + 1:03d}"
        jobs.append(ImageJob(f"mugshot_frontal_cropped_all/{sss}_frontal.png", sss, stream, s, 0, mugshot))
    for d in (1, 2, 3):
        for c in range(1, sizes.cameras + 1):
            regime = Regime(level=SCFACE_DISTANCE_LEVELS[d], occlusion_probability=0.1, camera=c)
            for s in range(sizes.subjects):
                sss = f"{s + 1:03d}"
                path = f"surveillance_cameras_distance_{d}/cam_{c}/{sss}_cam{c}_{d}.png"
                jobs.append(ImageJob(path, sss, stream, s, 10 * d + c, regime))
    _finish(root, "scface", seed, sizes, jobs, workers)


def write_survface(root: Path, seed: int, sizes: SurvFaceSizes, workers: int = 1) -> None:
    """QMUL-SurvFace-like tree: ``training_set/<pid>/<pid>_cam<c>_<k>.png``; ``Face_Identification_Test_Set/
    {gallery,mated_probe,unmated_probe}/<pid>_cam<c>_<k>.png`` with ``gallery_img_ID_pairs.mat`` (gallery_set,
    gallery_ids) and ``mated_probe_img_ID_pairs.mat`` (mated_probe_set, mated_probe_ids; ids from 1, the
    watch-list rank); ``Face_Verification_Test_Set/verification_images/`` with ``positive_pairs_names.mat``
    and ``negative_pairs_names.mat`` (P x 2 cells of file names).

    Latent levels are uniform in [0, 0.85] (sizes about 22 x 18 on average; about 5 % of the images hard).
    """
    rng = identity_rng(seed, _ALLOCATION_TAG, _STREAMS[("survface", "watchlist")])
    regime = Regime(level=(0.0, 0.85))
    jobs: list[ImageJob] = []

    def add(folder: str, pid: int, stream: int, index: int, k: int) -> str:
        name = f"{pid}_cam{int(rng.integers(1, 7))}_{k}.png"
        jobs.append(ImageJob(f"{folder}/{name}", str(pid), stream, index, k, regime))
        return name

    stream = _STREAMS[("survface", "train")]
    for i, count in enumerate(_allocate(sizes.train_images, sizes.train_identities, rng)):
        for k in range(1, int(count) + 1):
            add(f"training_set/{i + 1}", i + 1, stream, i, k)

    base = sizes.train_identities + 1
    stream = _STREAMS[("survface", "watchlist")]
    gallery_counts = _allocate(sizes.gallery_images, sizes.watchlist_identities, rng)
    mated_counts = _allocate(sizes.mated_probe_images, sizes.watchlist_identities, rng)
    gallery_names: list[str] = []
    gallery_ids: list[int] = []
    mated_names: list[str] = []
    mated_ids: list[int] = []
    test = "Face_Identification_Test_Set"
    for i in range(sizes.watchlist_identities):
        k = 0
        for _ in range(int(gallery_counts[i])):
            k += 1
            gallery_names.append(add(f"{test}/gallery", base + i, stream, i, k))
            gallery_ids.append(i + 1)
        for _ in range(int(mated_counts[i])):
            k += 1
            mated_names.append(add(f"{test}/mated_probe", base + i, stream, i, k))
            mated_ids.append(i + 1)

    base += sizes.watchlist_identities
    stream = _STREAMS[("survface", "unmated")]
    for i, count in enumerate(_allocate(sizes.unmated_probe_images, sizes.unmated_identities, rng)):
        for k in range(1, int(count) + 1):
            add(f"{test}/unmated_probe", base + i, stream, i, k)

    base += sizes.unmated_identities
    stream = _STREAMS[("survface", "verification")]
    folder = "Face_Verification_Test_Set/verification_images"
    positives: list[str] = []
    negatives: list[str] = []
    for i in range(sizes.verification_pairs):
        positives += [add(folder, base + i, stream, i, 1), add(folder, base + i, stream, i, 2)]
    base += sizes.verification_pairs
    for i in range(sizes.verification_pairs):
        a, b = sizes.verification_pairs + 2 * i, sizes.verification_pairs + 2 * i + 1
        negatives += [add(folder, base + 2 * i, stream, a, 1), add(folder, base + 2 * i + 1, stream, b, 1)]

    _savemat(
        root / test / "gallery_img_ID_pairs.mat",
        {
            "gallery_set": _cell(gallery_names),
            "gallery_ids": np.array(gallery_ids, dtype=np.uint16).reshape(-1, 1),
        },
    )
    _savemat(
        root / test / "mated_probe_img_ID_pairs.mat",
        {
            "mated_probe_set": _cell(mated_names),
            "mated_probe_ids": np.array(mated_ids, dtype=np.uint16).reshape(-1, 1),
        },
    )
    _savemat(
        root / "Face_Verification_Test_Set/positive_pairs_names.mat",
        {"positive_pairs_names": _cell(positives, columns=2)},
    )
    _savemat(
        root / "Face_Verification_Test_Set/negative_pairs_names.mat",
        {"negative_pairs_names": _cell(negatives, columns=2)},
    )
    _finish(root, "survface", seed, sizes, jobs, workers)


def write_ui(root: Path, seed: int, sizes: UISizes, workers: int = 1) -> None:
    """UI set: ``ui_<k>.png`` (one-off identities, 3-8 pixels high, heavy blur/noise, frequent occlusion,
    latent level 1.0-1.35) and ``nonface_<k>.png`` (the scene alone: textured background, no head, 6-24
    pixels), flat in ``root``."""
    face = Regime(level=(1.0, 1.35), min_size=3, max_size=8, occlusion_probability=0.5)
    nonface = Regime(level=(0.3, 1.0), min_size=6, max_size=24, face_present=False)
    jobs = [
        ImageJob(f"ui_{k:05d}.png", f"ui_{k:05d}", _STREAMS[("ui", "face")], k, 0, face)
        for k in range(sizes.face_images)
    ]
    jobs += [
        ImageJob(f"nonface_{k:05d}.png", "none", _STREAMS[("ui", "nonface")], k, 0, nonface)
        for k in range(sizes.nonface_images)
    ]
    _finish(root, "ui", seed, sizes, jobs, workers)


#: Share of HR images with an occluder (hand, scarf, another head...), as in-the-wild photos have.
HR_OCCLUSION_PROBABILITY = 0.1


def hr_identity_name(index: int) -> str:
    """Folder name of HR identity ``index`` (from 0): zero-padded to six digits, so sorted order is numeric
    order."""
    return f"{index + 1:06d}"


def write_hr(root: Path, seed: int, sizes: HRSizes, workers: int = 1) -> None:
    """Clean high-resolution tree (a VGGFace2 stand-in for pretraining): ``<identity>/<k>.png``.

    Identity folders are ``000001``, ``000002``, ... and images ``0001.png``, ``0002.png``, ... (zero-padded:
    sorted order is numeric order). Every image is ``image_size`` x ``image_size``, rendered with the usual
    within-identity variation (pose, expression, illumination, scene, an occluder in
    :data:`HR_OCCLUSION_PROBABILITY` of the images) and no very-low-resolution degradation: images of 32
    pixels or fewer are reduced from the 48 x 48 render grid with the sensor's area prefilter only (no blur,
    noise or JPEG), larger ones come from a 112 x 112 (or larger) render. The identities come from a stream of
    their own, so none of them appears in any other layout or role. Severity in the metadata is then the
    occlusion term alone.
    """
    regime = Regime(level=None, occlusion_probability=HR_OCCLUSION_PROBABILITY, clean_size=sizes.image_size)
    stream = _STREAMS[("hr", "identity")]
    jobs = [
        ImageJob(f"{hr_identity_name(i)}/{k:04d}.png", hr_identity_name(i), stream, i, k, regime)
        for i in range(sizes.identities)
        for k in range(1, sizes.images_per_identity + 1)
    ]
    _finish(root, "hr", seed, sizes, jobs, workers)
