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
import importlib
import logging
import os
import sys

from fmsmi.engine.host_memory import tune_malloc

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
