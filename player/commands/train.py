"""``fmsmi train``: train a network config on clips, Vimeo90K and synthetic motion (resumable)."""

from __future__ import annotations

import argparse

from fmsmi.engine.defaults import DEFAULT_MODEL


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers") from None


# Options that do not belong in the recorded command (the CLI's own, or only for this session).
_NOT_RECORDED = {"command", "verbose", "run", "benchmark", "no_progress"}


def command_line(args: argparse.Namespace) -> str:
    """The full command, every option spelled out (defaults included), for the run's records."""
    import shlex

    parts = ["fmsmi", "train"]
    for dest, value in vars(args).items():
        if dest in _NOT_RECORDED or value is None or value is False or value == [] or value == ():
            continue
        flag = "--" + dest.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif dest == "gaps":
            parts += [flag, ",".join(map(str, value))]
        elif isinstance(value, (list, tuple)):
            parts += [flag, *map(str, value)]
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model config (resumable, time-budgeted)",
        description="Trains on triplets from video clips (frames i, i+k, i+2k), the Vimeo90K triplet layout "
                    "and synthetic motion with exact middle frames. A run lives in --out: checkpoint.pt "
                    "(resume with --resume), log.jsonl, curves.png and the exported <model>.pt. Never train on "
                    "DAVIS: validation uses held-out clip frames and fixed synthetic scenes.")
    data = parser.add_argument_group("data (fixed for the life of a run)")
    data.add_argument("--clips", nargs="*", default=[], metavar="PATH", help="video files or folders of them")
    data.add_argument("--gaps", type=_ints, default=(1, 2, 3), help="frame gaps k for triplets (default 1,2,3)")
    data.add_argument("--vimeo", default=None, metavar="DIR", help="Vimeo90K triplet folder (tri_trainlist.txt)")
    data.add_argument("--textures", nargs="*", default=[], metavar="DIR", help="image folders for synthetic textures")
    data.add_argument("--clip-weight", type=float, default=0.5, help="share of clip triplets (default 0.5)")
    data.add_argument("--vimeo-weight", type=float, default=0.5, help="share of Vimeo90K triplets (default 0.5)")
    data.add_argument("--synthetic-weight", type=float, default=0.5, help="share of synthetic scenes (default 0.5)")
    data.add_argument("--max-motion", type=float, default=48.0, help="largest synthetic motion frame0->frame1, px")
    data.add_argument("--max-sprites", type=int, default=3, help="moving objects per synthetic scene (0..N)")
    data.add_argument("--procedural", type=float, default=0.3, help="share of procedural textures (default 0.3)")
    data.add_argument("--holdout", type=float, default=0.1, help="last fraction of each clip kept for validation")
    optim = parser.add_argument_group("optimization (fixed for the life of a run)")
    optim.add_argument("--model", default=DEFAULT_MODEL, help=f"network config (default: {DEFAULT_MODEL})")
    optim.add_argument("--crop", type=int, default=128, help="square crop side (multiple of the model's multiple)")
    optim.add_argument("--batch", type=int, default=8)
    optim.add_argument("--samples", type=int, default=1_000_000, help="planned training samples (the schedule's length)")
    optim.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW)")
    optim.add_argument("--min-lr-ratio", type=float, default=0.02, help="final lr as a fraction of the peak")
    optim.add_argument("--weight-decay", type=float, default=1e-4)
    optim.add_argument("--schedule", choices=("cosine", "onecycle"), default="cosine")
    optim.add_argument("--warmup", type=float, default=0.02, help="linear warm-up, fraction of the run (cosine)")
    optim.add_argument("--scale-loss", type=float, default=0.0, help="weight of the per-scale synthesis loss")
    optim.add_argument("--clip-grad", type=float, default=0.0, help="gradient-norm clip (0: off)")
    optim.add_argument("--seed", type=int, default=0)
    optim.add_argument("--init", default=None, metavar="WEIGHTS", help="start from these weights")
    optim.add_argument("--val-count", type=int, default=32, help="validation triplets per set")
    optim.add_argument("--val-size", type=int, default=256, help="validation crop side")
    session = parser.add_argument_group("session (may change between sessions)")
    session.add_argument("--out", required=True, metavar="DIR", help="run folder")
    session.add_argument("--resume", action="store_true", help="continue the run in --out if it has a checkpoint")
    session.add_argument("--minutes", type=float, default=None, help="stop cleanly after this many minutes")
    session.add_argument("--checkpoint-minutes", type=float, default=10.0, help="checkpoint interval (default 10)")
    session.add_argument("--log-every", type=int, default=5000, help="samples between log rows/validation")
    session.add_argument("--bf16", action="store_true", help="bf16 autocast (fast only with AVX-512 BF16/AMX)")
    session.add_argument("--op", choices=("auto", "reference", "native"), default="auto", help="AdaptiveSepConv op")
    session.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    session.add_argument("--prefetch", type=int, default=2, help="batches prepared ahead in a thread (0: none)")
    session.add_argument("--no-progress", action="store_true", help="no progress bar")
    session.add_argument("--benchmark", type=int, default=0, metavar="STEPS",
                         help="only measure training samples/s over STEPS steps and exit")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import signal
    from pathlib import Path

    import torch
    from fmsmi.errors import ConfigError
    from fmsmi.training.train import Session, TrainConfig, Trainer, measure_throughput

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads={args.threads}: expected >= 1")
        torch.set_num_threads(args.threads)
    if args.benchmark:
        measure_throughput(args.model, args.crop, args.batch, args.bf16, args.op, steps=args.benchmark, log_fn=print)
        return 0
    config = TrainConfig(
        model=args.model, clips=tuple(args.clips), gaps=args.gaps, vimeo=args.vimeo, textures=tuple(args.textures),
        clip_weight=args.clip_weight, vimeo_weight=args.vimeo_weight, synthetic_weight=args.synthetic_weight,
        max_motion=args.max_motion, max_sprites=args.max_sprites, procedural=args.procedural, holdout=args.holdout,
        crop=args.crop, batch=args.batch, samples=args.samples, lr=args.lr, min_lr_ratio=args.min_lr_ratio,
        weight_decay=args.weight_decay, schedule=args.schedule, warmup=args.warmup, scale_loss=args.scale_loss,
        clip_grad=args.clip_grad, seed=args.seed, init=args.init, val_count=args.val_count, val_size=args.val_size)
    session = Session(out=Path(args.out), minutes=args.minutes, checkpoint_minutes=args.checkpoint_minutes,
                      log_every=args.log_every, bf16=args.bf16, op=args.op, prefetch=args.prefetch,
                      progress=not args.no_progress, command=command_line(args))
    trainer = Trainer(config, session, resume=args.resume)

    def stop(signum, frame):
        trainer.request_stop(signal.Signals(signum).name)
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = trainer.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(json.dumps(result, indent=1))
    return 130 if result["reason"] in ("SIGINT",) else 0
