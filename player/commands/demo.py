"""``fmsmi demo``: the main job on the bundled sample clip (Big Buck Bunny, CC-BY 3.0).

With a display: the live 2x player. Without one: a 2x file, ``sample_2x.mp4`` by default.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

SAMPLE = "sample_bbb_360p.mp4"
CREDIT = "Big Buck Bunny, (c) copyright 2008, Blender Foundation / www.bigbuckbunny.org (CC-BY 3.0)"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="the bundled sample clip at 2x: in a window with a display, else to a file",
        description=f"Interpolate the bundled sample clip ({CREDIT}) to twice its frame rate on the "
                    "default engine: played live when a display exists, written to OUTPUT otherwise.")
    parser.add_argument("--output", type=Path, default=Path("sample_2x.mp4"),
                        help="file written when there is no display (default sample_2x.mp4)")
    parser.add_argument("--file", action="store_true", help="write the file even when a display exists")
    parser.set_defaults(run=run)


def sample_clip() -> Path:
    return Path(str(resources.files("fmsmi.player").joinpath("data", SAMPLE)))


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    from fmsmi.player.cli import main

    clip = sample_clip()
    print(f"fmsmi demo: {clip.name} — {CREDIT}", file=sys.stderr)
    if has_display() and not args.file:
        return main(["play", str(clip)])
    print(f"fmsmi demo: no display; writing {args.output}", file=sys.stderr)
    return main(["interpolate", str(clip), str(args.output)])
