"""Train the paper's method on SurvFace and compare it with ArcFace alone (Chai et al., CVPR 2023, Fig. 2).

    python examples/train_survface.py                      # CPU demo on the synthetic benchmark (minutes)
    python examples/train_survface.py --data-root DIR      # the paper's configuration (Table 5) on real data
    torchrun --nproc_per_node=4 examples/train_survface.py --data-root DIR --backbone iresnet50 --compile

One training step (RecognizabilityModel.forward), as in Fig. 2::

    image -> backbone.forward_features -> F (B,C,H,W) -> backbone.forward_head -> v (B,D)
    v, y  -> ArcFace (recognition module, s=64, m=0.45) -> cosines -> L_cls
    cosines, cos(v, u) -> Recognizability Index xi (Eq. 1-3, u = UI centre, recomputed each epoch)
    F -> perceptibility regression -> xi_hat -> L_L1 = SmoothL1(xi_hat, xi) (Eq. 4), L_ID (Eq. 5-7)
    F -> perceptibility attention  -> v_attn -> L_MSE(v_attn, v - <v,u>u) (Eq. 8-9)
    L = L_cls + 5 L_L1 + 2 L_ID + 1 L_MSE (Eq. 10); Adam with Table 5's per-module learning rates

Evaluation: open-set TPIR20@FPIR 0.3/0.2/0.1 (mated and unmated probes against the gallery), verification
TAR@FAR on the official pairs; and the quality comparison of the learned index with ERS, MagFace and CR-FIQA.
Quality of any image folder (CSV):
``python -m recognizability.training.predict --checkpoint OUT/full/last.pt --images DIR --out q.csv``.
All options: ``--help`` and docs/training.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from recognizability.training.cli import ExampleRun


def main(argv: Sequence[str] | None = None) -> int:
    # Table 5's survface column with a GPU or a dataset; otherwise the declared CPU demo on synthetic data.
    run = ExampleRun("survface", argv, description=__doc__.splitlines()[0] if __doc__ else "")
    for name, settings in run.configurations().items():  # the full method (and, in the demo, ArcFace alone)
        # Adam with per-module learning rates; each epoch: UI centre u from the UI set, then Fig. 2 per batch
        # (F -> v -> ArcFace and xi; F -> xi_hat for L_L1 and L_ID; F -> v_attn for L_MSE); a checkpoint.
        result = run.fit(name, settings)
        # the SurvFace protocols (TPIR20@FPIR, TAR@FAR), the quality comparison, report.json and plots
        run.evaluate(name, result)
    run.finish()  # prints the comparison it just measured
    return 0


if __name__ == "__main__":
    sys.exit(main())
