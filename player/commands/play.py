"""``fmsmi play``: the live 2x player (decode -> interpolate -> OpenGL window, paced, with audio)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmsmi.engine.defaults import DEFAULT_MODEL

KEYS = ("keys: space pause, left/right seek 5 s, down/up seek 60 s, f fullscreen, i interpolation on/off, "
        "c compare (original | interpolated), s screenshot, q/Esc quit")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "play", help="play a video at twice its frame rate, live, in a window",
        description="Play INPUT in a window at twice its frame rate, interpolating live. " + KEYS,
        epilog="Needs a display (X11/Wayland; headless: xvfb-run, or PYOPENGL_PLATFORM=osmesa for an offscreen "
               "window).")
    parser.add_argument("input", type=Path, metavar="INPUT", help="video file")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"network config (default: {DEFAULT_MODEL})")
    parser.add_argument("--weights", type=Path, default=None, help="weights file (default: the shipped ones)")
    parser.add_argument("--backend", default="auto", help="auto, cpu, torch or trt (default: auto)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of each inference worker (default: 1 with several workers)")
    parser.add_argument("--workers", type=int, default=None,
                        help="middle frames synthesised at once on the CPU (default: one per core)")
    parser.add_argument("--fullscreen", action="store_true", help="start fullscreen")
    parser.add_argument("--no-interp", dest="interpolation", action="store_false",
                        help="start at the source frame rate (i toggles)")
    parser.add_argument("--compare", action="store_true", help="start side by side: original left, 2x right")
    parser.add_argument("--no-audio", dest="audio", action="store_false", help="do not play the sound")
    parser.add_argument("--duration", type=float, default=None, metavar="SEC",
                        help="stop after SEC seconds of playback")
    parser.add_argument("--stats", type=Path, default=None, metavar="FILE.json",
                        help="write frame counts, fps and per-stage timings here at the end")
    parser.add_argument("--screenshot-at", nargs=2, default=None, metavar=("SEC", "FILE.png"),
                        help="save the window at SEC seconds of the video as a PNG")
    parser.set_defaults(run=run)


def _screenshot_args(values: list[str] | None) -> tuple[float | None, Path | None]:
    from fmsmi.errors import ConfigError
    if values is None:
        return None, None
    seconds, path = values
    try:
        return float(seconds), Path(path)
    except ValueError:
        raise ConfigError(f"--screenshot-at SEC={seconds!r}: expected a number of seconds") from None


def run(args: argparse.Namespace) -> int:
    from fmsmi.player.live.player import Player, PlayOptions

    screenshot_at, screenshot_path = _screenshot_args(args.screenshot_at)
    options = PlayOptions(input=args.input, model=args.model, weights=args.weights, backend=args.backend,
                          threads=args.threads, workers=args.workers, fullscreen=args.fullscreen,
                          interpolation=args.interpolation,
                          compare=args.compare, audio=args.audio, duration=args.duration, stats_path=args.stats,
                          screenshot_at=screenshot_at, screenshot_path=screenshot_path)
    from .interrupts import graceful_interrupts

    player = Player(options, notice=lambda line: print(f"fmsmi play: {line}", file=sys.stderr))
    with graceful_interrupts("fmsmi play"):
        stats = player.run()
    if args.stats is None and args.verbose:
        print(f"fmsmi play: {stats['frames_shown']}/{stats['frames_target']} frames shown, "
              f"{stats['achieved_fps']} fps, {stats['damaged_packets']} damaged packet(s) skipped", file=sys.stderr)
    elif stats["damaged_packets"] or stats["input_read_error"]:
        ending = f"; the input ends early ({stats['input_read_error']})" if stats["input_read_error"] else ""
        print(f"fmsmi play: {args.input}: {stats['damaged_packets']} damaged video packet(s) skipped{ending}",
              file=sys.stderr)
    return 0
