"""Evidence for ``recognizability fit-quality`` on the synthetic benchmark, five seeds paired

    python benchmarks/quality_evidence.py --quick --out /tmp/quality_quick     # a minute: checks the script
    python benchmarks/quality_evidence.py --out benchmarks/results               # docs/quality.md's evidence
    python benchmarks/quality_evidence.py --tables benchmarks/results/quality_evidence.json     # tables only

Protocol (docs/quality.md, written before the runs): for each seed, a synthetic TinyFace tree of the
``evidence`` size with its UI set; the shipped ``small_vlr_net`` ``synthetic-hr`` backbone frozen; one
embedding pass over the training faces, the UI images and the pseudo-UI faces (``embed_faces``, as
``fit-quality`` runs it) and one over the test images; eight quality heads fitted from the cached features
(``fit_quality_head``, the defaults of ``fit-quality``) and the baselines SER-FIQ, embedding norm and ERS on
the same recognizer; on the test split, each score's Spearman correlation with the generator's severity, its
ERC area at FMR 1e-3 and 1e-2 and its EDC pAUC; the pseudo-UI centre's cosine with the real one; the costs.
Every score is compared with the reference head `index/F/real` (the paper's choice) by the mean paired
difference over the seeds and its 95 % t interval.

Per-seed records go to ``OUT/quality_evidence.json`` as each seed finishes; the tables to
``OUT/quality_evidence.md``. The figures are synthetic, labelled with the generator version.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from recognizability import metrics as M
from recognizability.backbones import normalize_for, pretrained_weights
from recognizability.data import TinyFace, synthetic
from recognizability.data import transforms as T
from recognizability.data.synthetic import cache_dir
from recognizability.deploy import Preprocessing, QualityModel, serfiq_quality_of_backbone
from recognizability.deploy.quality_fit import (
    PSEUDO_UI_IMAGES,
    PSEUDO_UI_SIZE,
    FaceFeatures,
    QualityFitSettings,
    check_face_folder,
    check_ui_folder,
    embed_faces,
    fit_quality_head,
    load_frozen_backbone,
    ui_center_of,
)
from recognizability.training.data import load_image_set
from recognizability.training.report.evaluation import common_reject_fractions, probe_gallery_pairs
from recognizability.training.report.evidence import paired_t_interval

BACKBONE, TAG = "small_vlr_net", "synthetic-hr"
SEEDS = (0, 1, 2, 3, 4)
#: The paper's choices (the index on F, a real UI set, no diversion term): every score is paired against it.
REFERENCE_HEAD = "index/F/real"
_OFF = {"diversion_weight": 0.0}  # no diversion term (left unset, the index takes the default 0.4)
_ON = {"diversion_weight": 0.4}  # Table 5's 2 : 5
_V = {"regression_input": "embedding"}
#: name -> (settings changes, UI set)
HEADS: dict[str, tuple[dict[str, Any], str]] = {
    "index/F/real": ({"target": "index", **_OFF}, "real"),
    "index/F/pseudo": ({"target": "index", **_OFF}, "pseudo"),
    "index/v/real": ({"target": "index", **_V, **_OFF}, "real"),
    "index/v/pseudo": ({"target": "index", **_V, **_OFF}, "pseudo"),
    "index/F/real/ID": ({"target": "index", **_ON}, "real"),
    "index/F/pseudo/ID": ({"target": "index", **_ON}, "pseudo"),
    "ratio/F": ({"target": "certainty_ratio", **_OFF}, "real"),
    "ratio/v": ({"target": "certainty_ratio", **_V, **_OFF}, "real"),
}
BASELINES = ("serfiq", "norm", "ers/real", "ers/pseudo")
SCORES = (*HEADS, *BASELINES)
FMRS = (1e-3, 1e-2)
PSEUDO_SIZES = (2, 3, 4, 6, 8)
FIGURES = {
    "spearman": "Spearman",
    "erc_auc_fmr0.001": "ERC area @1e-3",
    "erc_auc_fmr0.01": "ERC area @1e-2",
    "edc_pauc_fmr0.001": "EDC pAUC @1e-3",
    "edc_pauc_fmr0.01": "EDC pAUC @1e-2",
}
QUICK_SIZES = {
    "train_identities": 12, "train_images": 96, "test_identities": 8, "probe_identities": 8,
    "probe_images": 40, "gallery_images": 16, "distractor_images": 1,
}  # fmt: skip


def generator_version() -> str:
    return str(getattr(synthetic, "GENERATOR_VERSION", "1"))


def make_tree(work: Path, seed: int, quick: bool, reuse: bool) -> Path:
    """The seed's synthetic tree, generated into ``work`` by the generator installed now (an earlier tree
    there is reused only when asked: the generator may have changed since)."""
    root = work / f"tinyface-{'quick' if quick else 'evidence'}-seed{seed}-generator{generator_version()}"
    if not (reuse and (root / "SYNTHETIC.txt").is_file()):
        sizes = QUICK_SIZES if quick else {"distractor_images": 1}
        scale = "small" if quick else "evidence"
        synthetic.generate("tinyface", root, seed=seed, scale=scale, with_ui=True, overwrite=True, **sizes)
    return root


def quality_figures(
    scores: dict[str, torch.Tensor],
    severity: torch.Tensor,
    v: torch.Tensor,
    labels: torch.Tensor,
    probes: int,
    seed: int,
    impostors: int,
) -> dict[str, dict[str, float]]:
    """Spearman with severity, ERC areas and EDC pAUC of every score on the test split (probes first)."""
    pi, gi, is_genuine = probe_gallery_pairs(labels[:probes], labels[probes:], impostors, seed)
    unit = torch.nn.functional.normalize(v.double(), dim=1)
    similarity = (unit[:probes][pi] * unit[probes:][gi]).sum(1)
    pair_q = {name: torch.minimum(q[:probes][pi], q[probes:][gi]).double() for name, q in scores.items()}
    fractions = common_reject_fractions(pair_q, is_genuine)
    out: dict[str, dict[str, float]] = {}
    for name, q in scores.items():
        figures = {"spearman": M.spearman_correlation(q, severity)}
        for fmr in FMRS:
            erc = M.error_versus_reject(similarity, is_genuine, pair_q[name], fmr, fractions)
            edc = M.error_versus_reject(similarity, is_genuine, pair_q[name], fmr, threshold="fixed")
            figures[f"erc_auc_fmr{fmr:g}"] = float(erc.auc)
            figures[f"edc_pauc_fmr{fmr:g}"] = float(edc.edc_pauc)
        out[name] = figures
    out["_pairs"] = {
        "genuine": float(is_genuine.sum()),
        "impostor": float((~is_genuine).sum()),
        "fractions": float(len(fractions)),
    }
    return out


@torch.no_grad()
def predict(module: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return torch.cat([module(chunk.float()) for chunk in torch.split(inputs, 4096)])


@torch.no_grad()
def run_seed(seed: int, work: Path, quick: bool, reuse: bool = False) -> dict[str, Any]:
    """Everything the protocol measures for one seed."""
    began = time.perf_counter()
    tree = make_tree(work, seed, quick, reuse)
    frozen = load_frozen_backbone(BACKBONE, TAG)
    backbone = frozen.module
    preprocessing = Preprocessing(int(backbone.input_size[0]), "RGB", BACKBONE)  # type: ignore[index]
    digest = f"{frozen.sha256}:{sorted(frozen.architecture.items())}"
    faces, _ = check_face_folder(tree / "Training_Set")
    ui_paths = check_ui_folder(tree / "UI")
    cache = work / "cache"

    def training_pass() -> FaceFeatures:  # the fit's one pass: training faces, UI images, pseudo-UI faces
        return embed_faces(
            backbone,
            preprocessing,
            faces.paths,
            faces.labels,
            faces.identities,
            backbone_digest=digest,
            ui=ui_paths,
            pseudo_ui=(PSEUDO_UI_SIZE, PSEUDO_UI_IMAGES),
            cache=cache,
        )

    t = time.perf_counter()
    train = training_pass()
    embedding_seconds = time.perf_counter() - t
    t = time.perf_counter()
    again = training_pass()  # a second fit's pass: served by the cache
    cached_seconds = time.perf_counter() - t
    test_sets = (TinyFace(tree, "probe"), TinyFace(tree, "gallery"))  # probes first, as the pairs expect
    records = [record for test_set in test_sets for record in test_set.samples]
    probes = len(test_sets[0].samples)
    test_labels = [int(r.label) for r in records]
    test = embed_faces(
        backbone,
        preprocessing,
        [r.path for r in records],
        test_labels,
        [str(i) for i in range(max(test_labels) + 1)],
        backbone_digest=digest,
        cache=cache,
    )
    if len(test) != len(records):
        raise RuntimeError(f"expected every test image readable, got {len(test.unreadable)} unreadable")
    severity = torch.tensor([float(r.severity) for r in records], dtype=torch.float64)
    assert train.ui_embeddings is not None and train.pseudo_ui_embeddings is not None
    centres = {"real": ui_center_of(train.ui_embeddings), "pseudo": ui_center_of(train.pseudo_ui_embeddings)}

    # the pseudo-UI centre's cosine with the real one, by size (training faces decoded once, in memory)
    images = load_image_set(TinyFace(tree, "train"), preprocessing.input_size).images
    pseudo_cosine = {}
    for size in PSEUDO_SIZES:
        degraded = torch.cat(
            [
                backbone(normalize_for(backbone, T.degrade(chunk, size)))  # type: ignore[operator]
                for chunk in torch.split(images, 512)
            ]
        )
        pseudo_cosine[str(size)] = float(ui_center_of(degraded) @ centres["real"])

    scores: dict[str, torch.Tensor] = {}
    heads: dict[str, dict[str, Any]] = {}
    quick_settings: dict[str, Any] = {"steps": 50, "calibration_share": 0.5, "fmr": 0.05} if quick else {}
    for name, (changes, ui) in HEADS.items():
        settings = QualityFitSettings(seed=seed, **quick_settings, **changes)
        t = time.perf_counter()
        head = fit_quality_head(train, settings, centres[ui], source=f"seed {seed}", synthetic=True)
        fit_seconds = time.perf_counter() - t
        inputs = (
            test.feature_maps.flatten(1) if settings.regression_input == "feature_map" else test.embeddings
        )
        scores[name] = predict(head.regression, inputs)
        heads[name] = {
            "fit_seconds": fit_seconds,
            **{k: head.report[k] for k in ("fit", "held_out_spearman_with_target") if k in head.report},
        }
        if name == REFERENCE_HEAD:
            default_regression = head.regression
    passes = 10 if quick else 100
    t = time.perf_counter()
    scores["serfiq"] = serfiq_quality_of_backbone(
        backbone, test.feature_maps.float(), passes=passes, generator=torch.Generator().manual_seed(seed)
    )
    serfiq_seconds = time.perf_counter() - t
    scores["norm"] = M.magface_quality(test.embeddings)
    scores["ers/real"] = M.ers_quality(test.embeddings, centres["real"])
    scores["ers/pseudo"] = M.ers_quality(test.embeddings, centres["pseudo"])
    figures = quality_figures(
        scores, severity, test.embeddings, torch.tensor(test_labels), probes, seed, 2000 if quick else 50_000
    )

    # scoring speed on the test images, side by side: trunk + fitted head against trunk + SER-FIQ (after one
    # warm-up batch each, three alternating rounds, the median rate of each)
    test_images = torch.cat([load_image_set(t, preprocessing.input_size).images for t in test_sets])
    model = QualityModel(backbone, default_regression, preprocessing)

    def with_head(chunk: torch.Tensor) -> None:
        model.embed_and_score(chunk.float())

    def with_serfiq(chunk: torch.Tensor) -> None:
        feature_map = backbone.forward_features(normalize_for(backbone, chunk.float()))  # type: ignore[operator]
        serfiq_quality_of_backbone(backbone, feature_map, passes=passes)

    rates: dict[str, list[float]] = {"head": [], "serfiq": []}
    for warm_up in (with_head, with_serfiq):
        warm_up(test_images[:256])
    for _ in range(3):
        for name, run in (("head", with_head), ("serfiq", with_serfiq)):
            t = time.perf_counter()
            for chunk in torch.split(test_images, 256):
                run(chunk)
            rates[name].append(len(test_images) / (time.perf_counter() - t))
    head_rate, serfiq_rate = statistics.median(rates["head"]), statistics.median(rates["serfiq"])
    return {
        "seed": seed,
        "generator_version": generator_version(),
        "tree": str(tree),
        "faces": len(train), "identities": len(train.identities), "test_images": len(test), "probes": probes,
        "pairs": figures.pop("_pairs"),
        "figures": figures,
        "heads": heads,
        "pseudo_centre_cosine": pseudo_cosine,
        "costs": {
            "embedding_pass_seconds": embedding_seconds, "embedding_pass_images_read": train.images_read,
            "cached_pass_seconds": cached_seconds, "cached_pass_images_read": again.images_read,
            "serfiq_seconds_on_cached_features": serfiq_seconds, "serfiq_passes": passes,
            "scoring_images_per_second_head": head_rate, "scoring_images_per_second_serfiq": serfiq_rate,
            "threads": torch.get_num_threads(),
            "fit_steps": QualityFitSettings(**quick_settings).steps,
        },
        "seconds": time.perf_counter() - began,
    }  # fmt: skip


def _digits(key: str) -> int:
    """Decimals shown of a figure: the EDC pAUC's differences lie in the fourth."""
    return 4 if key.startswith("edc") else 3


def _mean_sd(values: list[float], digits: int = 3) -> str:
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {sd:.{digits}f}"


def _median_range(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def _difference(values: list[float], digits: int = 3) -> str:
    if len(values) < 2:
        return "n/a"
    mean, low, high = paired_t_interval(values)
    verdict = "effect" if low > 0 or high < 0 else "no effect resolved"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}] ({verdict})"


def tables(results: dict[str, Any]) -> str:
    """The markdown tables of docs/quality.md from the per-seed records."""
    records = results["records"]
    seeds = [r["seed"] for r in records]
    versions = sorted({r["generator_version"] for r in records})
    out = [
        f"SYNTHETIC. Generator version {', '.join(versions)}; seeds {seeds}; backbone {results['backbone']} "
        f"(sha256 {results['weights_sha256'][:12]}), frozen; mean ± sd over seeds.",
        "",
        "| score | " + " | ".join(FIGURES.values()) + " |",
        "|---|" + "---:|" * len(FIGURES),
    ]
    for name in SCORES:
        cells = [_mean_sd([r["figures"][name][k] for r in records], _digits(k)) for k in FIGURES]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    compared = ("spearman", "edc_pauc_fmr0.001", "erc_auc_fmr0.001")
    out += [
        "",
        f"Paired difference against `{REFERENCE_HEAD}` (mean [95 % t interval]); lower is better for every "
        "figure.",
        "",
        "| score | " + " | ".join(FIGURES[k] for k in compared) + " |",
        "|---|" + "---|" * len(compared),
    ]
    for name in SCORES:
        if name == REFERENCE_HEAD:
            continue
        cells = []
        for k in compared:
            differences = [r["figures"][name][k] - r["figures"][REFERENCE_HEAD][k] for r in records]
            cells.append(_difference(differences, _digits(k)))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += [
        "",
        "| pseudo-UI size (pixels) | " + " | ".join(PSEUDO_SIZES_STR) + " |",
        "|---|" + "---:|" * len(PSEUDO_SIZES),
    ]
    out.append(
        "| cosine with the real UI centre | "
        + " | ".join(_mean_sd([r["pseudo_centre_cosine"][s] for r in records]) for s in PSEUDO_SIZES_STR)
        + " |"
    )
    costs = [r["costs"] for r in records]
    fits = [h["fit_seconds"] for r in records for h in r["heads"].values()]
    ratio = [c["scoring_images_per_second_head"] / c["scoring_images_per_second_serfiq"] for c in costs]
    out += [
        "",
        "| cost (shared machine, load varying during the runs) | median [min, max] |",
        "|---|---:|",
        f"| embedding pass, s ({costs[0]['embedding_pass_images_read']} images read) | "
        f"{_median_range([c['embedding_pass_seconds'] for c in costs], 1)} |",
        f"| the same pass again from the cache, s ({costs[0]['cached_pass_images_read']} images read) | "
        f"{_median_range([c['cached_pass_seconds'] for c in costs], 2)} |",
        f"| one fit from cached features (targets, {costs[0]['fit_steps']} steps, calibration), s | "
        f"{_median_range(fits, 1)} |",
        f"| SER-FIQ ({costs[0]['serfiq_passes']} passes) on the cached test feature maps, s | "
        f"{_median_range([c['serfiq_seconds_on_cached_features'] for c in costs], 1)} |",
        "| scoring, trunk + fitted head, images/s | "
        f"{_median_range([c['scoring_images_per_second_head'] for c in costs], 0)} |",
        "| scoring, trunk + SER-FIQ, images/s | "
        f"{_median_range([c['scoring_images_per_second_serfiq'] for c in costs], 0)} |",
        f"| speed ratio fitted head / SER-FIQ, same seed | {_median_range(ratio, 1)} |",
    ]
    held = [r["heads"][REFERENCE_HEAD].get("held_out_spearman_with_target") for r in records]
    held_values = [h for h in held if h is not None]
    out += [
        "",
        f"Held-out identities of the fit, `{REFERENCE_HEAD}`: Spearman between the predicted and the actual "
        f"index {_mean_sd(held_values)}.",
    ]
    return "\n".join(out)


PSEUDO_SIZES_STR = tuple(str(s) for s in PSEUDO_SIZES)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--out", type=Path, help="folder for quality_evidence.json and quality_evidence.md")
    p.add_argument(
        "--tables", type=Path, help="print the tables of an existing quality_evidence.json and stop"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--quick", action="store_true", help="tiny tree, 1 seed, short fits: checks the script")
    p.add_argument(
        "--work",
        type=Path,
        help="folder for the trees and the feature cache (default $RECOGNIZABILITY_CACHE/quality-evidence)",
    )
    p.add_argument("--reuse-trees", action="store_true", help="reuse the trees already in --work")
    p.add_argument("--resume", action="store_true", help="keep the seeds already in the JSON; run the rest")
    args = p.parse_args(argv)
    if args.tables is not None:
        print(tables(json.loads(args.tables.read_text())))
        return 0
    if args.out is None:
        p.error("--out is required unless --tables is given")
    seeds = args.seeds[:1] if args.quick else args.seeds
    work = args.work or cache_dir() / "quality-evidence"
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "quality_evidence.json"
    if results_path.exists() and not args.resume:
        p.error(f"--out {args.out} already holds quality_evidence.json: pass --resume or another --out")
    command = ["python benchmarks/quality_evidence.py", *(sys.argv[1:] if argv is None else argv)]
    header = {
        "command": " ".join(command),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}",
        "synthetic": True,
        "generator_version": generator_version(),
        "backbone": f"{BACKBONE} {TAG}",
        "weights_sha256": pretrained_weights(BACKBONE, TAG).sha256,
        "tree": "quick" if args.quick else "evidence",
        "protocol": "docs/quality.md",
    }
    records: list[dict[str, Any]] = []
    if args.resume and results_path.exists():
        earlier = json.loads(results_path.read_text())
        changed = [k for k in ("tree", "generator_version", "weights_sha256") if earlier.get(k) != header[k]]
        if changed:
            p.error(f"--resume: {results_path} was measured with another {', '.join(changed)}")
        records = earlier["records"]
    began = time.time()
    for seed in seeds:
        if any(r["seed"] == seed for r in records):
            continue
        record = run_seed(seed, work, args.quick, args.reuse_trees)
        records.append(record)
        records.sort(key=lambda r: r["seed"])
        results_path.write_text(json.dumps({**header, "records": records}, indent=1) + "\n")
        reference = record["figures"][REFERENCE_HEAD]
        print(
            f"[{time.time() - began:6.0f}s] seed {seed}: {REFERENCE_HEAD} Spearman "
            f"{reference['spearman']:.3f}, EDC pAUC@1e-3 {reference['edc_pauc_fmr0.001']:.4f}",
            file=sys.stderr,
            flush=True,
        )
    text = tables({**header, "records": records})
    (args.out / "quality_evidence.md").write_text(
        f"command: `{header['command']}`\n\nmachine: {header['machine']}; "
        f"{time.time() - began:.0f} s\n\n{text}\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
