"""``fmsmi interpolate INPUT OUTPUT``: write a copy of a video at 2x or 4x its frame rate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmsmi.engine.defaults import DEFAULT_MODEL


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "interpolate", help="write a video at 2x or 4x its frame rate (audio and subtitles copied)",
        description="Interpolate every pair of consecutive frames and encode at factor x the source rate. "
                    "Audio and subtitle streams are copied unchanged; colour tags, rotation and 10-bit depth "
                    "are kept. The file appears at OUTPUT only when the run completes.")
    parser.add_argument("input", type=Path, metavar="INPUT", help="source video file")
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="output video file (.mp4, .mkv, .mov)")
    parser.add_argument("--factor", type=int, choices=(2, 4), default=2, help="frame-rate multiple (default 2)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"network config: fast or lite (CPU; lite: multi-scale, slower), base (GPU) "
                             f"(default {DEFAULT_MODEL})")
    parser.add_argument("--backend", default="auto", choices=("auto", "cpu", "torch", "trt"),
                        help="inference backend (default auto: trt, then torch on CUDA, then cpu)")
    parser.add_argument("--weights", type=Path, default=None, help="weights file (default: the shipped ones)")
    parser.add_argument("--codec", default="libx264", help="video encoder (default libx264)")
    parser.add_argument("--crf", type=int, default=18, help="encoder quality, lower is better (default 18)")
    parser.add_argument("--preset", default="veryfast", help="encoder preset (default veryfast)")
    parser.add_argument("--scene-threshold", type=float, default=0.2, metavar="T",
                        help="scene-cut score above which frames are repeated, not blended; 0..1, "
                             "1 disables (default 0.2)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel inference workers (default: one per core on the CPU, 1 on a GPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of each inference worker (default: 1 with several workers)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fmsmi.player.media import EncodeSettings, probe

    from .interrupts import graceful_interrupts

    probe(args.input)   # bad input fails here, before the engine (torch) loads
    from fmsmi.player.export import ExportConfig, export, partial_path

    config = ExportConfig(input=args.input, output=args.output, factor=args.factor, model=args.model,
                          backend=args.backend, weights=args.weights,
                          encode=EncodeSettings(codec=args.codec, crf=args.crf, preset=args.preset),
                          scene_threshold=args.scene_threshold, workers=args.workers, threads=args.threads)
    with graceful_interrupts("fmsmi interpolate", force=lambda: partial_path(config.output).unlink(missing_ok=True)):
        result = export(config, progress=not args.quiet)
    if not args.quiet:
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in result.stage_ms().items())
        print(f"{result.output}: {result.input_frames} -> {result.output_frames} frames in {result.seconds:.1f} s "
              f"({result.fps:.1f} fps out), {result.scene_cuts} scene cut(s), "
              f"{result.damaged_packets} damaged packet(s) skipped; ms per frame: {stages}",
              file=sys.stderr)
    return 0
