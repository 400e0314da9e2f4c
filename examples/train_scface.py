"""Train the paper's method on SCFace and compare it with ArcFace alone (Chai et al., CVPR 2023, Fig. 2).

    python examples/train_scface.py                      # CPU demo on the synthetic benchmark (minutes)
    python examples/train_scface.py --data-root DIR --ui-root UI --pretrained r50.pth   # Table 5, real data
    torchrun --nproc_per_node=4 examples/train_scface.py --data-root DIR --backbone iresnet50 --compile

This file is the method, in the paper's order: build the backbone, the margin head, RecognizabilityLoss, the
UI centre and Adam with Table 5's per-module learning rates; each epoch refit the UI centre; each batch run
Fig. 2 forward and step; then the SCFace protocol (rank-1 per distance, 4.20 m, 2.60 m and 1.00 m, against
the mugshots) and the quality comparison of the learned index with ERS, MagFace and CR-FIQA. Plumbing
(device and torchrun, checkpoints and --resume, progress, reports, plots) comes from recognizability.training
helpers called below. Quality of any image folder from a run:
``recognizability quality DIR --checkpoint OUT/full/last.pt --out q.csv``; the paper's Fig. 5 and 6 for it:
``recognizability figures --checkpoint OUT/full/last.pt --out DIR``. Options: ``--help`` and docs/training.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch

from recognizability.nn import RecognizabilityLoss, UICenter
from recognizability.training import (
    EpochBatches,
    MethodModules,
    RunData,
    Session,
    TrainingConfig,
    TrainingResult,
    autocast,
    build_augmentation,
    build_backbone,
    build_head,
    check_training_batch,
    embed_images,
    epoch_seed,
    parameter_groups,
    parse_args,
    prepare_batch,
    replicated_modules,
    seed_everything,
    set_train_mode,
    validate,
    validation_subset,
)

DATASET = "scface"


def train(name: str, config: TrainingConfig, data: RunData, session: Session) -> TrainingResult:
    """Fine-tune one configuration as in Fig. 2; checkpoints in OUT/<name>/last.pt."""
    seed_everything(config.run.seed)
    # The pieces of Fig. 2: feature extractor, recognition module, PRM + PAM + index, UI centre u.
    backbone = build_backbone(config.model)  # create_backbone, --pretrained, frozen BatchNorm (paper)
    # margin head (--head; ArcFace, the paper's), dense, chunked or class-sharded (--head-parallel): W (C, D)
    head = build_head(config.head, backbone.embedding_dim, data.num_classes)
    channels, height, width = backbone.feature_shape
    criterion = RecognizabilityLoss(channels, (height, width), backbone.embedding_dim, **config.loss.kwargs())
    ui_center = UICenter(backbone.embedding_dim)
    model = session.place(MethodModules(backbone, head, criterion, ui_center))
    # Adam, one learning rate per module (Table 5), x0.1 from the decay epoch
    optimizer = torch.optim.Adam(
        parameter_groups(
            config.optim, backbone=backbone, recognition=head, attention=criterion.attention,
            regression=criterion.regression,
        )
    )  # fmt: skip
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, config.optim.lr_multiplier)
    run = session.start(name, config, model, optimizer, scheduler)  # resumes OUT/<name>/last.pt (--resume)
    size = config.model.input_size
    # flip, +-10 degrees, rescale (Sec. B), from a stream of its own: every configuration sees the same images
    augmentation_draws = torch.Generator()
    augmentation = build_augmentation(size, config.data, augmentation_draws)
    augmentation = None if augmentation is None else augmentation.to(session.device)
    validation = validation_subset(data.train, config.data, config.run.seed)
    forward_features = session.compiled(backbone.forward_features)  # torch.compile with --compile

    for epoch in run.epochs():
        seed_everything(epoch_seed(config.run.seed, epoch))  # an epoch is a function of (seed, epoch)
        augmentation_draws.manual_seed(epoch_seed(config.run.seed, epoch))
        # u = normalised mean of the UI set's normalised embeddings under the current backbone (Eq. 2, 8)
        ui_v, ui_xi_hat = embed_images(model, data.ui, size, session.device, session.amp)
        ui_center.fit(ui_v)
        if config.ui.ui_statistics and config.loss.use_diversion:  # mu_UI, sigma_UI of Eq. 6 (default 0, 1)
            criterion.diversion.set_ui_statistics(ui_xi_hat[: config.ui.ui_statistics_samples])
        set_train_mode(model, config.model.freeze_batchnorm)
        batches = EpochBatches(
            data.train, config.data.batch_size, session.context, config.run.seed, epoch,
            config.run.max_steps_per_epoch,
        )  # fmt: skip
        meter = run.meter(epoch, len(batches))
        for images, labels in batches:
            x = prepare_batch(images, size, backbone, augmentation)  # augment, resize, normalise
            labels = check_training_batch(model, x, labels, data.num_classes)  # a bad batch changes nothing
            with autocast(session.device, session.amp):
                F = forward_features(x)  # feature map (B, C, H, W)
                v = backbone.forward_head(F)  # embedding (B, D)
                out = head(v, labels)  # cosines with W, margin logits, L_cls
                losses = criterion(F, v, labels, out, ui_center)  # xi, xi_hat, L_L1, L_ID, L_MSE (Eq. 1-10)
            optimizer.zero_grad(set_to_none=True)
            losses.total.backward()
            # torchrun: mean of the gradients and batch-norm statistics over the processes (nothing in one
            # process); a sharded head's shards are never averaged
            session.average_replicas(*replicated_modules(model))
            optimizer.step()
            meter.update(losses, len(labels))
        scheduler.step()
        degrade = config.data.validation_degrade_size  # supplement Sec. B: flipped, 16 x 16 and back
        figures = validate(model, validation, size, degrade, session.device, session.amp)
        run.end_epoch(epoch, meter.finish(), figures)  # history, log line, checkpoint
    return run.finish()


def main(argv: Sequence[str] | None = None) -> int:
    # Every check, up front: a bad option is a usage error before anything is loaded or written.
    arguments = parse_args(DATASET, argv, description=(__doc__ or "").splitlines()[0])
    session = Session(arguments.options)  # device, torchrun process group, CPU threads
    session.say(f"configuration: {arguments.config.run.description}")  # Table 5, or the declared CPU demo
    # OUT/<run>: --resume continues a run, --overwrite replaces it, anything else there is refused.
    session.prepare(arguments.runs, arguments.checkpoints)
    # The real trees under --data-root, or the synthetic stand-in in the same layout.
    data = session.load_data(DATASET, arguments.config.model.input_size)
    reports = {}
    # The demo compares the margin head alone with the full method: the same function, run twice.
    for name, config in arguments.runs.items():
        result = train(name, config, data, session)
        # SCFace rank-1 per distance, quality, report.json, plots
        reports[name] = session.evaluate(result, data)
    session.finish(reports, arguments.config.run.description, data.benchmark.provenance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
