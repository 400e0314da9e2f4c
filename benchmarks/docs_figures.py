"""Make the figures shown in docs/training.md again: the CPU demo, then the paper's Fig. 5 and 6 for its runs.

    python benchmarks/docs_figures.py             # the demo into runs/docs_figures, figures into docs/figures
    python benchmarks/docs_figures.py --retrain   # train the demo again even if its runs exist

Steps (each printed as the command it is): ``python examples/train_tinyface.py --out RUNS`` (ArcFace alone and
the full method on the synthetic TinyFace benchmark; skipped when RUNS holds both finished runs), then
``recognizability figures --checkpoint RUNS/full/last.pt --compare RUNS/arcface/last.pt --out RUNS/figures``,
then copies of ``quality_extremes.png``, ``activation_maps.png``, ``comparison.png`` and the full run's
``erc.png`` into ``docs/figures/``, each checked to be under 300 KB. The figures are **synthetic**.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from recognizability.deploy.cli import main as recognizability

ROOT = Path(__file__).resolve().parents[1]
#: The largest figure the documentation takes.
MAX_BYTES = 300_000


def _say(command: list[str]) -> None:
    print("$ " + " ".join(shlex.quote(word) for word in command), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", default="runs/docs_figures", help="folder of the demo's runs")
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures"), help="where the docs' figures go")
    parser.add_argument("--retrain", action="store_true", help="train the demo again even if its runs exist")
    args = parser.parse_args(argv)
    runs, out = Path(args.runs), Path(args.out)
    finished = all((runs / run / "report.json").is_file() for run in ("arcface", "full"))
    if args.retrain or not finished:
        demo = [
            sys.executable,
            str(ROOT / "examples" / "train_tinyface.py"),
            "--out",
            str(runs),
            "--no-progress",
        ]
        if runs.exists():
            demo.append("--overwrite")
        _say(["python", *demo[1:]])
        subprocess.run(demo, check=True)
    figures = [
        "figures", "--checkpoint", str(runs / "full" / "last.pt"), "--compare",
        str(runs / "arcface" / "last.pt"), "--out", str(runs / "figures"), "--overwrite",
    ]  # fmt: skip
    _say(["recognizability", *figures])
    if recognizability(figures) != 0:
        return 1
    out.mkdir(parents=True, exist_ok=True)
    sources = [
        runs / "figures" / "quality_extremes.png",
        runs / "figures" / "activation_maps.png",
        runs / "comparison.png",
        runs / "full" / "erc.png",
    ]
    for source in sources:
        size = source.stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"expected {source} under {MAX_BYTES} bytes for the docs, got {size}")
        shutil.copyfile(source, out / source.name)
        print(f"{out / source.name}: {size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
