"""Compare motion pre-alignment settings on a trained network, without retraining it.

    python bench/motion_variants.py --weights W.pt --set davis|heldout "bias=0.015" "fine_level=2" ...

Each argument after the options is a MotionConfig (keyword=value, comma-separated; "" is the
default). The network runs with its motion stage off (``motion=None``); each setting aligns
the two frames with engine/network/motion.align first, so one set of weights is compared
under every setting (weights trained without alignment, e.g. lite-r3, show what the stage
buys before any fine-tuning). Sets: ``davis`` (../shared/data/davis30, input/ + gt/), and
``heldout``: 40 triplets spread over the held-out last 10 % of each clip in
../shared/data/clips with frame gaps 2-4 (frames wider than 700 px halved), the data the
training never sees. PSNR on uint8-rounded output, mean over samples; prints one line per
setting with the change against no alignment and how many samples got better or worse.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
from fmsmi.engine.host_memory import tune_malloc
from fmsmi.engine.network import VFIFMSMI
from fmsmi.engine.network.config import MotionConfig, get_config
from fmsmi.engine.network.motion import align
from fmsmi.training.data.images import read_image
from fmsmi.training.data.video import ClipTriplets, load_clips

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(255)


def davis():
    root = SHARED / "davis30"
    for folder in sorted((root / "input").iterdir()):
        yield folder.name, *(to_tensor(read_image(path)) for path in (
            folder / "frame10.png", folder / "frame11.png", root / "gt" / folder.name / "frame10i11.png"))


def heldout(count: int = 40):
    triplets = ClipTriplets(load_clips([SHARED / "clips"]), gaps=(2, 3, 4), split="val")
    for item in np.linspace(0, len(triplets) - 1, count).round().astype(int):
        first, middle, last = (to_tensor(image) for image in triplets.triplet(int(item)))
        if first.shape[-1] > 700:
            first, middle, last = (torch.nn.functional.avg_pool2d(t, 2) for t in (first, middle, last))
        yield f"clip{item}", first, last, middle


def psnr(output: torch.Tensor, truth: torch.Tensor) -> float:
    output = (output.clamp(0, 1) * 255).round()
    return float(10 * np.log10(255 ** 2 / ((output - (truth * 255).round()) ** 2).mean().item()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lite")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--set", choices=("davis", "heldout"), default="heldout")
    parser.add_argument("settings", nargs="*", default=[""])
    args = parser.parse_args()
    tune_malloc()
    configs = [MotionConfig(**eval(f"dict({text})")) for text in args.settings]  # noqa: S307 (a bench tool)
    network = VFIFMSMI(dataclasses.replace(get_config(args.model), motion=None))
    # the tensors only: the file's config may name a motion stage, which this script replaces
    network.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True)["state_dict"])
    network.eval()
    samples = list(davis() if args.set == "davis" else heldout())
    scores = np.zeros((len(samples), 1 + len(configs)))
    times = []
    with torch.inference_mode():
        for row, (_, frame0, frame1, truth) in enumerate(samples):
            multiple = network.config.inference_multiple
            pad = (0, -frame0.shape[-1] % multiple, 0, -frame0.shape[-2] % multiple)
            padded0, padded1 = (torch.nn.functional.pad(f, pad, mode="replicate") for f in (frame0, frame1))
            crop = (..., slice(0, frame0.shape[-2]), slice(0, frame0.shape[-1]))
            scores[row, 0] = psnr(network(padded0, padded1)[crop], truth)
            for column, config in enumerate(configs, start=1):
                started = time.perf_counter()
                aligned = align(padded0, padded1, config)
                times.append(time.perf_counter() - started)
                scores[row, column] = psnr(network(*aligned)[crop], truth)
    print(f"{args.set}: {len(samples)} samples, no alignment {scores[:, 0].mean():.3f} dB "
          f"(alignment in PyTorch: median {1e3 * np.median(times):.1f} ms)")
    for column, config in enumerate(configs, start=1):
        change = scores[:, column] - scores[:, 0]
        print(f"{scores[:, column].mean():.3f} dB ({change.mean():+.3f}; better on {int((change > 0.05).sum())}, "
              f"worse on {int((change < -0.05).sum())}) {config}")


if __name__ == "__main__":
    main()
