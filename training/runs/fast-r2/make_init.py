"""fast-r2's starting point: fast-r1's tensors for the layers the current ``fast`` keeps.

    python training/runs/fast-r2/make_init.py [--source FAST_R1.pt] [--out training/runs/fast-r2/init-from-fast-r1.pt]

fast-r1 (engine/weights/fast.pt from commit 4f30bf5, re-saved with its config dict at d021ed7;
training/runs/fast-r1) had encoder levels at
1/4, 1/8, 1/16 and 1/32; the current ``fast`` keeps the first two (engine/network/config.py).
Its stem, encoder and decoder at 1/4 and 1/8, the up-block 1/8 -> 1/4 and the head have
fast-r1's names and shapes and are copied; the 1/4 up-block now reads the 1/8 encoder output
instead of the decoder's, so the copy is a start for fine-tuning, not the same function
(training validation 23.35 dB on clips before any training, fast-r1 25.12). Without
--source the fast-r1 file is read from git (``git show d021ed7:engine/weights/fast.pt``).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import subprocess
from pathlib import Path

import torch
from fmsmi.engine.network import VFIFMSMI, get_config
from fmsmi.engine.weights import apply_weights, save_weights

log = logging.getLogger("make_init")

FAST_R1_COMMIT = "d021ed7"
FAST_R1_WIDTHS = (16, 32, 48, 64)   # fast-r1's encoder levels 1/4 .. 1/32


def fast_r1_file(folder: Path) -> Path:
    """fast-r1's weight file from git, written into ``folder``."""
    data = subprocess.run(["git", "show", f"{FAST_R1_COMMIT}:engine/weights/fast.pt"], check=True,
                          capture_output=True).stdout
    path = folder / "fast-r1.pt"
    path.write_bytes(data)
    return path


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=None, help="fast-r1's weight file (default: from git)")
    parser.add_argument("--out", type=Path, default=Path("training/runs/fast-r2/init-from-fast-r1.pt"))
    args = parser.parse_args()
    fast = get_config("fast")
    fast_r1 = VFIFMSMI(dataclasses.replace(fast, encoder_widths=FAST_R1_WIDTHS))
    source = args.source if args.source is not None else fast_r1_file(args.out.parent)
    try:
        apply_weights(fast_r1, source)
    finally:
        if args.source is None:
            source.unlink()
    network = VFIFMSMI(fast)
    tensors = fast_r1.state_dict()
    network.load_state_dict({name: tensors[name] for name in network.state_dict()})
    save_weights(args.out, network.config, network.state_dict(),
                 {"derived_from": f"fast-r1 ({FAST_R1_COMMIT}:engine/weights/fast.pt)",
                  "method": "training/runs/fast-r2/make_init.py"})
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
