"""Realism of the synthetic faces, judged by face detectors trained only on real photographs.

Two judges the generator never saw:

- ``haar``: OpenCV's frontal-face Haar cascade (``haarcascade_frontalface_default.xml``, shipped inside the
  ``opencv-python-headless`` 4.x wheels). Protocol: the image converted to grey, resized to 100 x 100
  (bicubic), padded by 20 replicated pixels, ``detectMultiScale(scaleFactor=1.05, minNeighbors=3,
  minSize=(40, 40))``; a face is found when it returns at least one box.
- ``dlib``: dlib's built-in HOG + linear SVM frontal face detector (``dlib.get_frontal_face_detector()``,
  inside the ``dlib-bin`` wheel, no model file), on the same 140 x 140 grey image, upsampled once by the
  detector (its smallest window is 80 x 80 pixels); a face is found when it returns at least one box.

Sets (generated afresh with the installed generator unless ``--trees`` names earlier trees):

- ``hr``: clean renders of the ``hr`` layout (seed 0, 40 identities x 8 images, 32 x 32), per |yaw| bin when
  the metadata records the yaw (generator version 2 and later);
- the TinyFace-like small default (training set, probes, gallery, distractors), per severity bin;
- its UI set: extremely degraded faces (``ui_*.png``) and non-face crops (``nonface_*.png``);
- 500 more non-face crops (a UI tree of non-faces only, same seed), for the non-face goal.

``--reference`` adds real faces: scikit-image's ``lfw_subset`` (100 real 25 x 25 face crops and 100 non-face
crops), when scikit-image is installed.

Usage::

    python benchmarks/realism.py                           # prints the table, writes results/realism.json
    python benchmarks/realism.py --trees DIR --label v1    # judge earlier trees DIR/hr, DIR/tinyface
    python benchmarks/realism.py --keep-trees DIR --grid docs/images/synthetic_faces.png --grid-before OLD
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

RESULTS = Path(__file__).resolve().parent / "results"
#: |yaw| bins in degrees (upper bound included in the last bin only).
YAW_BINS: tuple[tuple[float, float], ...] = ((0.0, 15.0), (15.0, 30.0), (30.0, 45.0), (45.0, 90.0))
SEVERITY_BINS: tuple[tuple[float, float], ...] = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))
#: Non-face crops judged besides the small UI set's 15 (a 5 % goal needs more than 15 to mean anything).
NONFACES = 500
#: Goals of the realism benchmark (rates).
GOALS = {"frontal": 0.90, "clean": 0.70, "nonface": 0.05}

Judge = Callable[[NDArray[np.uint8]], bool]


def judge_input(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The detectors' input: grey, bicubic-resized to 100 x 100, padded by 20 replicated pixels.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey.

    Returns:
        uint8 (140, 140).
    """
    import cv2

    grey = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    big = cv2.resize(grey, (100, 100), interpolation=cv2.INTER_CUBIC)
    out: NDArray[np.uint8] = cv2.copyMakeBorder(big, 20, 20, 20, 20, cv2.BORDER_REPLICATE)
    return out


def haar_judge() -> Judge:
    """OpenCV's frontal-face Haar cascade with the issue's protocol."""
    import cv2

    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"could not load the Haar cascade {path} (opencv-python-headless<5 ships it)")

    def judge(image: NDArray[np.uint8]) -> bool:
        boxes = cascade.detectMultiScale(
            judge_input(image), scaleFactor=1.05, minNeighbors=3, minSize=(40, 40)
        )
        return len(boxes) > 0

    return judge


def dlib_judge() -> Judge:
    """dlib's HOG frontal face detector on the same input, upsampled once."""
    import dlib

    detector = dlib.get_frontal_face_detector()

    def judge(image: NDArray[np.uint8]) -> bool:
        return len(detector(judge_input(image), 1)) > 0

    return judge


JUDGES: dict[str, Callable[[], Judge]] = {"haar": haar_judge, "dlib": dlib_judge}


def read_rgb(path: Path) -> NDArray[np.uint8]:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"could not read {path}")
    out: NDArray[np.uint8] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return out


def _rate(hits: Sequence[bool]) -> dict[str, Any]:
    n = len(hits)
    found = int(sum(hits))
    return {"n": n, "detected": found, "rate": found / n if n else None}


def _binned(
    hits: Sequence[bool], values: Sequence[float], bins: Sequence[tuple[float, float]]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i, (low, high) in enumerate(bins):
        last = i == len(bins) - 1
        inside = [h for h, v in zip(hits, values, strict=True) if low <= v < high or (last and v == high)]
        out[f"[{low:g}, {high:g}{']' if last else ')'}"] = _rate(inside)
    return out


def _rows(root: Path) -> list[dict[str, str]]:
    with (root / "synthetic_metadata.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def judge_tree(
    root: Path, judges: dict[str, Judge], select: Callable[[str], bool]
) -> tuple[list[dict[str, str]], dict[str, list[bool]]]:
    """Run every judge on the images of ``root`` whose relative path ``select`` accepts."""
    rows = [row for row in _rows(root) if select(row["path"])]
    hits: dict[str, list[bool]] = {name: [] for name in judges}
    for row in rows:
        image = read_rgb(root / row["path"])
        for name, judge in judges.items():
            hits[name].append(judge(image))
    return rows, hits


def summarise_hr(rows: list[dict[str, str]], hits: list[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {"all": _rate(hits)}
    if rows and "yaw" in rows[0]:
        yaw = [abs(float(row["yaw"])) for row in rows]
        out["yaw"] = _binned(hits, yaw, YAW_BINS)
    return out


def summarise_degraded(rows: list[dict[str, str]], hits: list[bool]) -> dict[str, Any]:
    severity = [float(row["severity"]) for row in rows]
    return {"all": _rate(hits), "severity": _binned(hits, severity, SEVERITY_BINS)}


def reference_sets(judges: dict[str, Judge]) -> dict[str, dict[str, Any]]:
    """scikit-image's ``lfw_subset``: 100 real faces then 100 non-faces, 25 x 25 grey in [0, 1]."""
    try:
        from skimage.data import lfw_subset
    except ImportError:
        return {}
    images = (np.asarray(lfw_subset()) * 255.0 + 0.5).astype(np.uint8)
    out: dict[str, dict[str, Any]] = {}
    for name, judge in judges.items():
        hits = [judge(image) for image in images]
        out[name] = {"real_faces": _rate(hits[:100]), "real_nonfaces": _rate(hits[100:])}
    return out


def _generate(folder: Path, seed: int) -> None:
    from recognizability.data.synthetic import generate

    generate("hr", folder / "hr", seed=seed, identities=40, images_per_identity=8, image_size=32)
    generate("tinyface", folder / "tinyface", seed=seed, with_ui=True)
    generate("ui", folder / "nonfaces", seed=seed, face_images=0, nonface_images=NONFACES)


def _tinyface_part(path: str) -> str:
    if path.startswith("Training_Set/"):
        return "tinyface_train"
    return "tinyface_" + path.split("/")[1].lower()


def measure(trees: Path, judges: dict[str, Judge]) -> dict[str, Any]:
    """Every set's detection rates per judge (see the module docstring)."""
    results: dict[str, Any] = {name: {} for name in judges}
    rows, hits = judge_tree(trees / "hr", judges, lambda path: True)
    for name in judges:
        results[name]["hr_clean"] = summarise_hr(rows, hits[name])
    rows, hits = judge_tree(trees / "tinyface", judges, lambda path: True)
    parts = [_tinyface_part(row["path"]) for row in rows]
    for name in judges:
        for part in sorted(set(parts)):
            chosen = [i for i, p in enumerate(parts) if p == part]
            results[name][part] = summarise_degraded(
                [rows[i] for i in chosen], [hits[name][i] for i in chosen]
            )
    ui = trees / "tinyface" / "UI"
    rows, hits = judge_tree(ui, judges, lambda path: True)
    faces = [i for i, row in enumerate(rows) if row["path"].startswith("ui_")]
    nonfaces = [i for i, row in enumerate(rows) if row["path"].startswith("nonface_")]
    for name in judges:
        results[name]["ui_faces"] = _rate([hits[name][i] for i in faces])
        results[name]["ui_nonfaces"] = _rate([hits[name][i] for i in nonfaces])
    if (trees / "nonfaces").is_dir():
        _, hits = judge_tree(trees / "nonfaces", judges, lambda path: path.startswith("nonface_"))
        for name in judges:
            results[name]["nonfaces_500"] = _rate(hits[name])
    return results


def _percent(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("rate") is None:
        return "-"
    return f"{100.0 * entry['rate']:.1f} % ({entry['detected']}/{entry['n']})"


def table_lines(columns: dict[str, dict[str, Any]]) -> list[str]:
    """A markdown table: one row per set and bin, one column per (label, judge)."""
    heads = [(label, judge) for label, result in columns.items() for judge in result["judges"]]
    keys: list[tuple[str, tuple[str, ...]]] = []

    def add(title: str, *path: str) -> None:
        if (title, path) not in keys:
            keys.append((title, path))

    for result in columns.values():
        for judged in result["judges"].values():
            for set_name, entry in judged.items():
                if set_name == "reference":
                    continue
                if "all" in entry:
                    add(f"{set_name} all", set_name, "all")
                    for group in ("yaw", "severity"):
                        for bin_name in entry.get(group, {}):
                            add(f"{set_name} {group} {bin_name}", set_name, group, bin_name)
                else:
                    add(set_name, set_name)
            for ref in judged.get("reference", {}):
                add(f"reference {ref}", "reference", ref)

    def lookup(judged: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
        node: Any = judged
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, dict) else None

    lines = [
        "| set | " + " | ".join(f"{label} {judge}" for label, judge in heads) + " |",
        "|---|" + "---|" * len(heads),
    ]
    for title, path in keys:
        cells = [_percent(lookup(columns[label]["judges"][judge], path)) for label, judge in heads]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return lines


def goals_met(judged: dict[str, Any]) -> dict[str, bool]:
    """The issue's goals for one judge's results."""
    hr = judged["hr_clean"]
    frontal = hr.get("yaw", {}).get(f"[0, {YAW_BINS[0][1]:g})")
    bins = [entry["rate"] for entry in judged["tinyface_train"]["severity"].values() if entry["n"] >= 20]
    return {
        "frontal >= 90 %": bool(frontal and frontal["rate"] >= GOALS["frontal"]),
        "clean >= 70 %": hr["all"]["rate"] >= GOALS["clean"],
        "non-faces <= 5 %": judged.get("nonfaces_500", judged["ui_nonfaces"])["rate"] <= GOALS["nonface"],
        "falls with severity": all(a >= b for a, b in itertools.pairwise(bins)),
    }


def _tile(image: NDArray[np.uint8], cell: int) -> NDArray[np.uint8]:
    """``image`` enlarged by pixel repetition to ``cell`` pixels high, centred on a grey ``cell`` square."""
    import cv2

    h, w = image.shape[:2]
    width = max(1, round(w * cell / h))
    big = cv2.resize(image, (width, cell), interpolation=cv2.INTER_NEAREST)
    out = np.full((cell, cell, 3), 128, dtype=np.uint8)
    left = (cell - width) // 2
    out[:, left : left + width] = big[:, : min(width, cell)]
    return out


def grid_rows(trees: Path, count: int) -> tuple[list[NDArray[np.uint8]], list[NDArray[np.uint8]]]:
    """(the first image of the first ``count`` hr identities; ``count`` TinyFace training images at evenly
    spaced severity quantiles, mildest first)."""
    rows = _rows(trees / "hr")
    firsts = [row for row in rows if row["path"].endswith("/0001.png")][:count]
    clean = [read_rgb(trees / "hr" / row["path"]) for row in firsts]
    train = sorted(
        (row for row in _rows(trees / "tinyface") if row["path"].startswith("Training_Set/")),
        key=lambda row: (float(row["severity"]), row["path"]),
    )
    picks = [train[round((i + 0.5) / count * (len(train) - 1))] for i in range(count)]
    degraded = [read_rgb(trees / "tinyface" / row["path"]) for row in picks]
    return clean, degraded


def write_grid(path: Path, columns: dict[str, Path], count: int = 10, cell: int = 64) -> None:
    """A PNG of clean and degraded renders, one pair of rows per generator: clean ``hr`` faces, then
    TinyFace-like training images of rising severity, each enlarged by pixel repetition."""
    import cv2

    label_width = 150
    bands: list[NDArray[np.uint8]] = []
    for kind in (0, 1):
        for label, trees in columns.items():
            images = grid_rows(trees, count)[kind]
            strip = np.concatenate([_tile(image, cell) for image in images], axis=1)
            text = np.full((cell, label_width, 3), 255, dtype=np.uint8)
            words = [label, "clean hr" if kind == 0 else "degraded"]
            for i, word in enumerate(words):
                cv2.putText(text, word, (6, 24 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
            bands.append(np.concatenate([text, strip], axis=1))
            bands.append(np.full((4, label_width + count * cell, 3), 255, dtype=np.uint8))
    picture = np.concatenate(bands[:-1], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trees", type=Path, help="judge DIR/hr and DIR/tinyface (with UI) written earlier")
    parser.add_argument("--label", help="name of this column (default: v<generator version>)")
    parser.add_argument("--judges", default="haar,dlib", help="comma-separated, among haar, dlib")
    parser.add_argument("--no-reference", action="store_true", help="skip the real lfw_subset crops")
    parser.add_argument("--out", type=Path, default=RESULTS / "realism.json")
    parser.add_argument(
        "--before", type=Path, help="a JSON file written by this script earlier: printed beside this one"
    )
    parser.add_argument(
        "--grid",
        type=Path,
        help="also write a PNG of clean and degraded renders of --trees (and --grid-before) to this file",
    )
    parser.add_argument(
        "--grid-before", type=Path, help="trees of an earlier generator (DIR/hr, DIR/tinyface) for the grid"
    )
    parser.add_argument(
        "--keep-trees", type=Path, help="generate the trees into this (absent or empty) folder and keep them"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.trees is not None and args.keep_trees is not None:
        parser.error("expected at most one of --trees and --keep-trees")
    if args.grid is not None and args.trees is None and args.keep_trees is None:
        parser.error("--grid needs the trees to show: --trees or --keep-trees")
    names = [name.strip() for name in args.judges.split(",") if name.strip()]
    unknown = sorted(set(names) - set(JUDGES))
    if unknown or not names:
        parser.error(f"expected --judges among {sorted(JUDGES)}, got {args.judges!r}")
    judges = {name: JUDGES[name]() for name in names}
    start = time.perf_counter()
    trees = args.trees if args.trees is not None else args.keep_trees
    if trees is not None:
        if args.keep_trees is not None:
            _generate(trees, args.seed)
        results = measure(trees, judges)
        version = _tree_version(trees / "hr")
    else:
        with tempfile.TemporaryDirectory() as folder:
            _generate(Path(folder), args.seed)
            results = measure(Path(folder), judges)
            version = _tree_version(Path(folder) / "hr")
    if not args.no_reference:
        for name, reference in reference_sets(judges).items():
            results[name]["reference"] = reference
    label = args.label or f"v{version}"
    record = {
        "label": label,
        "generator_version": version,
        "seed": args.seed,
        "hr": "40 identities x 8 images, 32 x 32",
        "tinyface": "small default with UI",
        "judges": results,
        "goals": {name: goals_met(judged) for name, judged in results.items()},
        "seconds": round(time.perf_counter() - start, 1),
    }
    columns: dict[str, dict[str, Any]] = {}
    if args.before is not None:
        before = json.loads(args.before.read_text(encoding="utf-8"))
        columns[before["label"]] = before
    columns[label] = record
    print("Share of images in which a face is found (SYNTHETIC faces; reference = real faces)")
    print("\n".join(table_lines(columns)))
    for name, goals in record["goals"].items():
        print(
            f"goals ({name}): "
            + ", ".join(f"{goal}: {'met' if ok else 'NOT met'}" for goal, ok in goals.items())
        )
    if args.grid is not None:
        shown = (
            {}
            if args.grid_before is None
            else {f"v{_tree_version(args.grid_before / 'hr')}": args.grid_before}
        )
        shown[label] = trees
        write_grid(args.grid, shown)
        print(f"wrote {args.grid}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _tree_version(root: Path) -> int:
    """The generator version a tree's SYNTHETIC.txt names (1 when it names none)."""
    for line in (root / "SYNTHETIC.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("generator version:"):
            return int(line.split(":", 1)[1])
    return 1


if __name__ == "__main__":
    sys.exit(main())
