"""``fmsmi eval PATH --format F``: PSNR/SSIM/IE of a model on a benchmark, beside frame averaging."""

from __future__ import annotations

import argparse

from fmsmi.engine.defaults import DEFAULT_MODEL

FORMATS = ("middlebury", "ucf101", "vimeo90k", "davis")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="PSNR/SSIM/IE on a benchmark folder, beside frame averaging",
        description="Interpolates every triplet of a benchmark through the Interpolator and prints "
                    "PSNR (uint8 output, RGB), SSIM (RGB, Gaussian 11x11 sigma 1.5) and Middlebury IE "
                    "(mean |error| on 0-255) for the model and for frame averaging. Layouts: "
                    "middlebury = other-data/<seq>/frame10.png, frame11.png + other-gt-interp/<seq>/frame10i11.png "
                    "(or input/<seq>/ + gt/<seq>/); ucf101 = <id>/frame_00.png, frame_01_gt.png, frame_02.png; "
                    "vimeo90k = tri_testlist.txt + sequences/; davis = input/<seq>/frame10.png, frame11.png + "
                    "gt/<seq>/frame10i11.png.")
    parser.add_argument("path", help="benchmark folder")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="layout", help="folder layout")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"network config (default: {DEFAULT_MODEL})")
    parser.add_argument("--weights", default=None, help="weights file (default: the shipped weights of --model)")
    parser.add_argument("--backend", default="auto", help="Interpolator backend (default: auto)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    parser.add_argument("--baseline-only", action="store_true", help="frame averaging only (no model)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write summary and per-sample rows here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path


    from fmsmi.errors import ConfigError
    from fmsmi.training.evaluate import evaluate, find_samples, format_table

    samples = find_samples(args.path, args.layout)
    if args.limit is not None:
        if args.limit < 1:
            raise ConfigError(f"--limit={args.limit}: expected >= 1")
        samples = samples[:args.limit]
    interpolate = None
    if not args.baseline_only:
        from fmsmi.engine import Interpolator
        from fmsmi.engine.weights import shipped_weights
        interpolator = Interpolator(args.model, args.weights, args.backend, args.threads)
        interpolate = interpolator.interpolate
        weights = args.weights or shipped_weights(args.model) or "none (untrained: frame averaging)"
    progress = lambda items: items
    if not args.no_progress:
        from tqdm import tqdm
        progress = lambda items: tqdm(items, desc="eval", unit="frame", file=sys.stderr, leave=False)
    result = evaluate(samples, interpolate, progress)
    model = "frame averaging only" if args.baseline_only else f"model {args.model}, weights {weights}"
    print(format_table(result, f"{args.path} ({args.layout}, {model})"))
    if args.json:
        result["dataset"] = {"path": str(args.path), "format": args.layout}
        result["model"] = None if args.baseline_only else {
            "name": args.model, "weights": str(weights), "backend": interpolator.backend}
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0
