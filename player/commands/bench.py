"""``fmsmi bench [INPUT]``: export speed per stage and end to end, against ffmpeg minterpolate."""

from __future__ import annotations

import argparse
from pathlib import Path

from fmsmi.engine.defaults import DEFAULT_MODEL


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure the 2x export (per stage, end to end) against ffmpeg minterpolate",
        description="Runs the file export on INPUT (default: the bundled 2 s Big Buck Bunny clip) for every "
                    "usable backend, and ffmpeg's minterpolate (mci) and frame blending on the same clip, "
                    "and prints a table of output fps, stage times and speed ratios.")
    parser.add_argument("input", type=Path, nargs="?", default=None, metavar="INPUT",
                        help="video to measure on (default: the bundled sample)")
    parser.add_argument("--size", action="append", default=[], metavar="WxH",
                        help="scale the input to this size first; repeat for several (default: its own size)")
    parser.add_argument("--frames", type=int, default=None, metavar="N", help="use only the first N frames")
    parser.add_argument("--backend", action="append", default=[], choices=("cpu", "torch", "trt"),
                        help="backend to measure; repeat for several (default: every usable one)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"network config (default {DEFAULT_MODEL})")
    parser.add_argument("--factor", type=int, choices=(2, 4), default=2, help="frame-rate multiple (default 2)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel inference workers (default: one per core on the CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of each inference worker (default: 1 with several workers)")
    parser.add_argument("--codec", default="libx264", help="encoder for every method (default libx264)")
    parser.add_argument("--crf", type=int, default=18, help="encoder quality for every method (default 18)")
    parser.add_argument("--preset", default="veryfast", help="encoder preset for every method (default veryfast)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="runs of each method, in interleaved rounds; the table shows medians (default 3)")
    parser.add_argument("--no-ffmpeg", action="store_true", help="skip the ffmpeg comparisons")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--plot", type=Path, default=None, metavar="FILE.png", help="also draw the report (matplotlib)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fmsmi.player.bench import (
        BenchConfig,
        bench,
        format_table,
        parse_size,
        plot,
        sample_clip,
        write_json,
    )
    from fmsmi.player.media import EncodeSettings

    config = BenchConfig(
        input=args.input if args.input is not None else sample_clip(),
        sizes=tuple(parse_size(size) for size in args.size), backends=tuple(args.backend), model=args.model,
        factor=args.factor, frames=args.frames, workers=args.workers, threads=args.threads,
        encode=EncodeSettings(codec=args.codec, crf=args.crf, preset=args.preset), ffmpeg=not args.no_ffmpeg,
        repeat=args.repeat)
    report = bench(config)
    print(format_table(report))
    if args.json is not None:
        write_json(report, args.json)
    if args.plot is not None:
        plot(report, args.plot)
    return 0
