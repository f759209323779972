"""What every triplet source shares: the batch layout, crops and augmentation.

A batch is a float32 tensor (N, 3, 3, H, W) in [0, 1]: N samples of (frame0, middle, frame1),
RGB. Sources draw everything random from the numpy Generator they are given, so a batch is
a function of its seed alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from fmsmi.errors import ConfigError

Triplet = tuple[np.ndarray, np.ndarray, np.ndarray]  # frame0, middle, frame1: HxWx3 uint8


class TripletSource(Protocol):
    name: str

    def sample_batch(self, rng: np.random.Generator, count: int, size: int) -> torch.Tensor:
        """``count`` random (frame0, middle, frame1) crops of ``size`` x ``size``: (count,3,3,size,size)."""
        ...


def to_batch(triplets: Sequence[Triplet]) -> torch.Tensor:
    """Equal-sized uint8 triplets -> (N,3,3,H,W) float32 in [0,1]."""
    stacked = torch.from_numpy(np.stack([np.stack(t) for t in triplets]))  # N,3,H,W,C
    return stacked.permute(0, 1, 4, 2, 3).float().div_(255.0)


def random_crop(triplet: Triplet, rng: np.random.Generator, size: int) -> Triplet:
    """The same random ``size`` x ``size`` window of the three frames (upscaled when the frames are smaller)."""
    height, width = triplet[0].shape[:2]
    side = min(size, height, width)
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crops = tuple(frame[top:top + side, left:left + side] for frame in triplet)
    if side == size:
        return crops
    return tuple(resize_uint8(crop, size) for crop in crops)


def center_crop(triplet: Triplet, size: int) -> Triplet:
    height, width = triplet[0].shape[:2]
    crop_h, crop_w = min(size, height), min(size, width)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return tuple(np.ascontiguousarray(f[top:top + crop_h, left:left + crop_w]) for f in triplet)


def resize_uint8(image: np.ndarray, size: int) -> np.ndarray:
    """Square bilinear resize of an HxWx3 uint8 array."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    resized = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return resized[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()


def augment(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Per sample: horizontal/vertical flip, temporal reversal and (square crops) transpose."""
    out = []
    square = batch.shape[-1] == batch.shape[-2]
    for sample in batch:
        if rng.random() < 0.5:
            sample = sample.flip(-1)
        if rng.random() < 0.5:
            sample = sample.flip(-2)
        if rng.random() < 0.5:
            sample = sample.flip(0)  # frame1, middle, frame0: the middle frame stays the truth
        if square and rng.random() < 0.5:
            sample = sample.transpose(-1, -2)
        out.append(sample)
    return torch.stack(out).contiguous()


class MixedSource:
    """Draws each sample from one of ``sources`` with probability proportional to ``weights``."""

    name = "mix"

    def __init__(self, sources: Sequence[TripletSource], weights: Sequence[float]):
        if len(sources) != len(weights) or not sources:
            raise ConfigError(f"sources/weights: expected one weight per source, got {len(sources)} "
                              f"sources and {len(weights)} weights")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError(f"weights={list(weights)}: expected non-negative weights with a positive sum")
        self.sources = list(sources)
        total = float(sum(weights))
        self.weights = np.array([w / total for w in weights])

    def sample_batch(self, rng: np.random.Generator, count: int, size: int) -> torch.Tensor:
        counts = rng.multinomial(count, self.weights)
        parts = [source.sample_batch(rng, int(n), size) for source, n in zip(self.sources, counts) if n]
        batch = torch.cat(parts)
        return batch[torch.from_numpy(rng.permutation(count))]

    def describe(self) -> str:
        return ", ".join(f"{s.name} {w:.2f}" for s, w in zip(self.sources, self.weights))
