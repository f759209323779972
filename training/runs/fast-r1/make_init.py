"""fast-r1's starting point: lite-r6's tensors for the layers the ``fast`` config keeps.

    python training/runs/fast-r1/make_init.py [--source engine/weights/lite.pt (lite-r6)]
        [--out training/runs/fast-r1/init-from-lite-r6.pt]

``fast`` is ``lite`` without the coarser kernel heads and the GridNet (engine/network/config.py):
its stem, encoder, decoder and full-resolution head have lite's names and shapes, so they are
copied unchanged; its output is then exactly lite-r6's full-resolution synthesis (DAVIS-30
25.63 dB before any training, against lite-r6's 25.78 with the GridNet).

``fast`` had lite's four encoder levels then; with today's ``fast`` (fast-r2: two levels) this
script writes fast-r2's structure, so run it from a checkout of d021ed7 or earlier to
reproduce the committed init file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fmsmi.engine.network import VFIFMSMI, get_config
from fmsmi.engine.weights import apply_weights, save_weights

log = logging.getLogger("make_init")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=Path("engine/weights/lite.pt"))
    parser.add_argument("--out", type=Path, default=Path("training/runs/fast-r1/init-from-lite-r6.pt"))
    args = parser.parse_args()
    lite = VFIFMSMI(get_config("lite"))
    apply_weights(lite, args.source)
    fast = VFIFMSMI(get_config("fast"))
    source = lite.state_dict()
    fast.load_state_dict({name: source[name] for name in fast.state_dict()})
    save_weights(args.out, fast.config, fast.state_dict(), {"derived_from": str(args.source),
                                                             "method": "training/runs/fast-r1/make_init.py"})
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
