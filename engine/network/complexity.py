"""Parameter and FLOP counts of the network configs (convolutions + AdaptiveSepConv)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import CONFIGS, NetworkConfig
from .model import VFIFMSMI


def sepconv_flops(config: NetworkConfig, height: int, width: int) -> int:
    """FLOPs of the per-scale syntheses: 2 frames x 3 channels x F^2 multiply-adds per pixel."""
    total = 0
    for head in config.heads:
        pixels = (height >> head.level) * (width >> head.level)
        total += 2 * 3 * 2 * head.taps ** 2 * pixels
    return total


def network_flops(network: VFIFMSMI, height: int, width: int) -> int:
    """FLOPs of one interpolated frame at padded size (height, width); counted on the meta device."""
    multiple = network.config.multiple
    height, width = -(-height // multiple) * multiple, -(-width // multiple) * multiple
    frames = [torch.empty(1, 3, height, width, device="meta") for _ in range(2)]
    network.set_sepconv(lambda img, v, h, d: img * v[:, :1] * h[:, :1])  # shape-only stand-in
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(*frames)
    return counter.get_total_flops() + sepconv_flops(network.config, height, width)


def complexity_table(sizes: dict[str, tuple[int, int]]) -> list[dict]:
    rows = []
    for name, config in CONFIGS.items():
        network = VFIFMSMI(config).to("meta")
        params = sum(p.numel() for p in network.parameters())
        gflops = {label: network_flops(network, h, w) / 1e9 for label, (w, h) in sizes.items()}
        rows.append({"model": name, "params": params, "gflops": gflops})
    return rows
