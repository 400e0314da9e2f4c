"""Command line: ``python -m recognizability.data.synthetic --layout tinyface --out DIR --seed 0 [--scale
PRESET]``.

``--scale`` names a size preset of the layout: ``small`` (default) or ``full`` for every layout, ``evidence``
for tinyface, ``gpu`` for hr. Size flags override the preset's sizes, e.g. ``--train-identities 500
--distractor-images 5000`` or ``--layout hr --identities 2000 --image-size 112``; each layout accepts its own
fields (see ``--help``). ``--with-ui`` also writes a UI set to ``DIR/UI``. Errors exit with status 2 and a
message naming the argument; nothing is written then.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import fields

from . import LAYOUTS, generate
from .sizes import LAYOUT_SIZES, PRESETS


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recognizability.data.synthetic",
        description="Write a synthetic very-low-resolution face tree in a real dataset's layout.",
    )
    parser.add_argument("--layout", required=True, choices=LAYOUTS)
    parser.add_argument("--out", required=True, help="root folder of the tree (absent or empty)")
    parser.add_argument("--seed", type=int, default=0)
    names = sorted({name for presets in PRESETS.values() for name in presets})
    per_layout = "; ".join(f"{layout}: {', '.join(presets)}" for layout, presets in PRESETS.items())
    parser.add_argument(
        "--scale", choices=names, default="small", help=f"size preset of the layout ({per_layout})"
    )
    parser.add_argument(
        "--with-ui", action="store_true", help="also write a UI set to OUT/UI (not for --layout ui)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT if it holds an earlier synthetic tree"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes that render (same bytes for any N; worth it for large presets)",
    )
    seen: set[str] = set()
    for layout, cls in LAYOUT_SIZES.items():
        group = parser.add_argument_group(f"sizes for --layout {layout}")
        for f in fields(cls):
            if f.name not in seen:
                seen.add(f.name)
                group.add_argument(_flag(f.name), dest=f.name, type=int, default=None, metavar="N")
            # a name shared by two layouts is listed once, under the first
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    allowed = {f.name for f in fields(LAYOUT_SIZES[args.layout])}
    all_names = {f.name for cls in LAYOUT_SIZES.values() for f in fields(cls)}
    given = {name: getattr(args, name) for name in all_names if getattr(args, name) is not None}
    wrong = sorted(set(given) - allowed)
    if wrong:
        parser.error(
            f"--layout {args.layout} accepts size flags {sorted(_flag(n) for n in allowed)}, "
            f"got {[_flag(n) for n in wrong]}"
        )
    start = time.perf_counter()
    try:
        root = generate(
            args.layout,
            args.out,
            seed=args.seed,
            scale=args.scale,
            with_ui=args.with_ui,
            overwrite=args.overwrite,
            workers=args.workers,
            **given,
        )
    except (ValueError, TypeError, OSError) as error:  # OSError: FileExistsError, an unwritable --out...
        parser.error(str(error))
    elapsed = time.perf_counter() - start
    print(
        f"wrote synthetic {args.layout} tree (seed {args.seed}, scale {args.scale}) "
        f"to {root} in {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
