"""``fmsmi models``: parameters and GFLOPs per interpolated frame for each network config."""

from __future__ import annotations

import argparse

SIZES = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080), "4K": (3840, 2160)}


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="parameters and GFLOPs per frame of each model config")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fmsmi.engine.network.complexity import complexity_table

    rows = complexity_table(SIZES)
    if args.json:
        import json
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'model':<6} {'params':>9} " + " ".join(f"{name + ' GFLOP':>12}" for name in SIZES)
    print(header)
    for row in rows:
        cells = " ".join(f"{row['gflops'][name]:>12.2f}" for name in SIZES)
        print(f"{row['model']:<6} {row['params'] / 1e6:>8.3f}M {cells}")
    print("GFLOP = 1e9 floating-point operations (a multiply-add counts 2) per interpolated frame, "
          "convolutions plus AdaptiveSepConv.")
    return 0
