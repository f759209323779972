"""The ``fmsmi`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``run`` (a function taking the parsed arguments and returning an exit
code). Command modules import only the standard library at the top, so building the
parser stays fast; the heavy imports happen inside ``run``.

User mistakes and bad input (any FmsmiError) end as one line on stderr and exit code 2;
Ctrl-C ends with exit code 130. Neither prints a traceback.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import logging
import os
import sys

from fmsmi import __version__
from fmsmi.errors import FmsmiError

# Subcommand modules, in the order `fmsmi --help` lists them.
COMMANDS = (
    "fmsmi.player.commands.demo",
    "fmsmi.player.commands.play",
    "fmsmi.player.commands.interpolate",
    "fmsmi.player.commands.bench",
    "fmsmi.player.commands.eval",
    "fmsmi.player.commands.train",
    "fmsmi.player.commands.export",
    "fmsmi.player.commands.build",
    "fmsmi.player.commands.info",
    "fmsmi.player.commands.models",
)

log = logging.getLogger("fmsmi")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fmsmi", description="Real-time video frame interpolation (VFI_FMSMI).")
    parser.add_argument("--version", action="version", version=f"fmsmi {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a command not written yet
        module.register(subparsers)
    return parser


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def tune_malloc(arenas: int = 2, mmap_threshold: int = 256 << 20, trim_threshold: int = 512 << 20) -> None:
    """glibc malloc for long-running frame pipelines (a user's MALLOC_* variables win).

    - arenas: with one arena per thread (decode, inference workers, encode, FFmpeg's and
      x264's threads) the resident memory of a long export climbed ~10 % over its first
      minutes before levelling off; with 2 it is flat from the first minute
      (docs/reliability.md, soak).
    - mmap and trim thresholds: frame-sized tensors (1-11 MB) above glibc's adaptive mmap
      threshold, or freed at the top of the heap, went back to the kernel and came back as
      fresh zeroed pages on the next frame. A 4 s `fmsmi play` at 640x360, five
      interleaved pairs: 217-342k page faults without, 92-96k with; CPU per middle frame
      median 69.1 -> 64.8 ms (docs/player.md). Memory stays bounded: the pipelines
      allocate the same sizes every frame.
    Elsewhere than glibc: nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        for variable, option, value in (("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas),
                                        ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, mmap_threshold),
                                        ("MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, trim_threshold)):
            if not os.environ.get(variable):
                libc.mallopt(option, value)
    except (OSError, AttributeError):
        pass


M_TRIM_THRESHOLD = -1   # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def main(argv: list[str] | None = None) -> int:
    # The pipelines share two cores between decode, inference and display/encode threads:
    # OpenMP threads that spin while waiting steal them (measured: 3-4x slower inference
    # under load). Must be set before torch loads; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    tune_malloc()
    command = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = args.command
        configure_logging(args.verbose)
        if not getattr(args, "run", None):
            parser.print_help()
            return 2
        return int(args.run(args) or 0)
    except FmsmiError as exc:
        print(f"fmsmi {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fmsmi{f' {command}' if command else ''}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
