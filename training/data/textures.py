"""Textures for synthetic motion: crops of real images (clip frames, picture folders) and
procedural patterns (fractal noise, dead leaves, stripes/checkers, gradients).

Every random choice comes from the numpy Generator passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from fmsmi.errors import ConfigError


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    coords = torch.arange(size, dtype=torch.float32)
    return coords[:, None].expand(size, size), coords[None, :].expand(size, size)


def _colors(rng: np.random.Generator, count: int) -> torch.Tensor:
    return torch.from_numpy(rng.random((count, 3), dtype=np.float32))


def fractal_noise(rng: np.random.Generator, size: int) -> torch.Tensor:
    """Coloured multi-octave value noise (3,size,size) in [0,1]."""
    out = torch.zeros(1, 3, size, size)
    persistence = rng.uniform(0.4, 0.8)
    cells, amplitude = int(rng.integers(2, 6)), 1.0
    while cells <= size:
        noise = torch.from_numpy(rng.random((1, 3, cells, cells), dtype=np.float32))
        out += amplitude * F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
        cells, amplitude = cells * 2, amplitude * persistence
    out = out[0]
    low, high = out.amin(dim=(1, 2), keepdim=True), out.amax(dim=(1, 2), keepdim=True)
    return ((out - low) / (high - low + 1e-6)).clamp_(0, 1)


def dead_leaves(rng: np.random.Generator, size: int, count: int = 60) -> torch.Tensor:
    """Overlapping discs with power-law radii: sharp edges at every scale."""
    out = _colors(rng, 1)[0][:, None, None].expand(3, size, size).clone()
    radii = np.minimum(size * 0.02 * (1 - rng.random(count)) ** -0.6, size * 0.4)
    centres = rng.random((count, 2)) * size
    colors = _colors(rng, count)
    for radius, (cy, cx), color in zip(radii, centres, colors):
        top, bottom = max(int(cy - radius - 1), 0), min(int(cy + radius + 2), size)
        left, right = max(int(cx - radius - 1), 0), min(int(cx + radius + 2), size)
        rows = torch.arange(top, bottom, dtype=torch.float32)[:, None] - cy
        cols = torch.arange(left, right, dtype=torch.float32)[None, :] - cx
        alpha = (radius + 0.5 - (rows ** 2 + cols ** 2).sqrt_()).clamp_(0, 1)
        window = out[:, top:bottom, left:right]
        window += alpha * (color[:, None, None] - window)
    return out


def stripes(rng: np.random.Generator, size: int) -> torch.Tensor:
    """Stripes or checkers at a random angle and period, anti-aliased."""
    rows, cols = _grid(size)
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(4, size / 4)
    u = (cols * math.cos(angle) + rows * math.sin(angle)) * (2 * math.pi / period)
    pattern = torch.sin(u)
    if rng.random() < 0.5:
        v = (-cols * math.sin(angle) + rows * math.cos(angle)) * (2 * math.pi / (period * rng.uniform(0.5, 2)))
        pattern = pattern * torch.sin(v)
    sharpness = rng.uniform(1, period / 2)
    weight = (0.5 + 0.5 * (pattern * sharpness).clamp_(-1, 1))[None]
    first, second = _colors(rng, 2)
    return first[:, None, None] * weight + second[:, None, None] * (1 - weight)


def gradient(rng: np.random.Generator, size: int) -> torch.Tensor:
    """A linear colour ramp with a little fractal noise."""
    rows, cols = _grid(size)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (cols * math.cos(angle) + rows * math.sin(angle))
    ramp = ((ramp - ramp.min()) / (ramp.max() - ramp.min() + 1e-6))[None]
    first, second = _colors(rng, 2)
    base = first[:, None, None] * ramp + second[:, None, None] * (1 - ramp)
    return (0.8 * base + 0.2 * fractal_noise(rng, size)).clamp_(0, 1)


PROCEDURAL = (fractal_noise, dead_leaves, dead_leaves, stripes, gradient)


def procedural_texture(rng: np.random.Generator, size: int) -> torch.Tensor:
    return PROCEDURAL[int(rng.integers(len(PROCEDURAL)))](rng, size)


class TextureBank:
    """Random square textures: crops of ``images`` (HxWx3 uint8) or procedural patterns.

    ``procedural`` is the probability of a procedural texture when images exist.
    Image crops are taken at a random scale (1/2 to 2x the output size, then resized) and
    get a random channel permutation a third of the time.
    """

    def __init__(self, images: Sequence[np.ndarray] = (), procedural: float = 0.3):
        if not 0 <= procedural <= 1:
            raise ConfigError(f"procedural={procedural}: expected a probability in [0, 1]")
        self.images = [image for image in images if min(image.shape[:2]) >= 16]
        self.procedural = procedural if self.images else 1.0

    def __len__(self) -> int:
        return len(self.images)

    def crop(self, rng: np.random.Generator, size: int) -> torch.Tensor:
        image = self.images[int(rng.integers(len(self.images)))]
        height, width = image.shape[:2]
        side = int(min(round(size * 2 ** rng.uniform(-0.5, 1.0)), height, width))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = torch.from_numpy(np.ascontiguousarray(image[top:top + side, left:left + side]))
        crop = crop.permute(2, 0, 1).float().div_(255.0)
        if side != size:
            crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", align_corners=False,
                                 antialias=side > size)[0].clamp_(0, 1)
        if rng.random() < 1 / 3:
            crop = crop[torch.from_numpy(rng.permutation(3))]
        return crop

    def sample(self, rng: np.random.Generator, count: int, size: int) -> torch.Tensor:
        """(count,3,size,size) float32 textures in [0,1]."""
        textures = [procedural_texture(rng, size) if rng.random() < self.procedural else self.crop(rng, size)
                    for _ in range(count)]
        return torch.stack(textures) if textures else torch.empty(0, 3, size, size)
