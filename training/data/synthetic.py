"""Synthetic motion with exact ground truth.

A scene is a background texture and up to ``max_sprites`` sprites (textured shapes with a
soft mask), composited back to front, so sprites occlude the background and each other.
Every layer moves with its own continuous motion in time t:

    screen(p, t) = centre + t * displacement + scale * A(t) (p - texture_centre)
    A(t) = R(t * rotation) * diag(exp(t * zoom_x), exp(t * zoom_y))

rendered at t = -1/2 (frame0), 0 (the middle frame, the truth) and +1/2 (frame1), so the
truth is the scene rendered halfway, not an estimate. ``displacement`` is the motion from
frame0 to frame1 in pixels (up to ``max_motion``). A global brightness gain 1 - g, 1, 1 + g
adds lighting changes. At t = 0 the background is an exact copy of its texture (the
sampling falls on texel centres), and every frame is quantized to 8 bits like real input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from fmsmi.errors import ConfigError

from .textures import TextureBank

TIMES = (-0.5, 0.0, 0.5)


@dataclass(frozen=True)
class MotionParams:
    """Layer motions, one row per layer: displacement (dx, dy) frame0->frame1 in pixels,
    rotation (radians, frame0->frame1), zoom (log scale x, y), centre (cx, cy) in pixels from
    the crop centre, and base scale of the texture on screen."""

    displacement: np.ndarray  # L,2
    rotation: np.ndarray      # L
    zoom: np.ndarray          # L,2
    centre: np.ndarray        # L,2
    scale: np.ndarray         # L


def affine_thetas(params: MotionParams, size: int, texture_size: int) -> torch.Tensor:
    """(L*3, 2, 3) affine_grid matrices (one per layer and time) mapping the crop to its texture.

    With align_corners=False a normalized output coordinate x_n is the pixel offset
    u = x_n * size / 2 from the crop centre; a texture pixel offset p maps to p_n = 2 p / T.
    """
    thetas = []
    for layer in range(len(params.scale)):
        for t in TIMES:
            angle = -params.rotation[layer] * t
            rotate = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            inverse = np.diag(np.exp(-params.zoom[layer] * t)) @ rotate  # A(t)^-1
            inverse = inverse / params.scale[layer]
            offset = params.centre[layer] + t * params.displacement[layer]
            linear = inverse * (size / texture_size)
            translation = -(2.0 / texture_size) * inverse @ offset
            thetas.append(np.concatenate([linear, translation[:, None]], axis=1))
    return torch.from_numpy(np.stack(thetas)).float()


def render(textures: torch.Tensor, thetas: torch.Tensor, size: int, padding: str) -> torch.Tensor:
    """Sample each of L textures (L,C,T,T) at three times -> (L,3,C,size,size)."""
    layers, channels = textures.shape[:2]
    repeated = textures.repeat_interleave(len(TIMES), dim=0)
    grid = F.affine_grid(thetas, [layers * len(TIMES), channels, size, size], align_corners=False)
    out = F.grid_sample(repeated, grid, mode="bicubic", padding_mode=padding, align_corners=False)
    return out.view(layers, len(TIMES), channels, size, size)


def sprite_masks(rng: np.random.Generator, count: int, size: int) -> torch.Tensor:
    """(count,1,size,size) soft masks: star-shaped blobs (radius a sum of harmonics) or rectangles."""
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    rows, cols = coords[:, None], coords[None, :]
    masks = []
    for _ in range(count):
        if rng.random() < 0.7:
            radius = (cols ** 2 + rows ** 2).sqrt()
            phi = torch.atan2(rows, cols)
            edge = torch.full_like(radius, rng.uniform(0.3, 0.45) * size)
            for harmonic in range(1, 5):
                amplitude = rng.uniform(0, 0.25 / harmonic) * size * 0.4
                edge = edge + amplitude * torch.cos(harmonic * phi + rng.uniform(0, 2 * math.pi))
            edge = edge.clamp(max=size / 2 - 1)
            masks.append((edge - radius + 0.5).clamp_(0, 1))
        else:
            angle = rng.uniform(0, math.pi)
            u = cols * math.cos(angle) + rows * math.sin(angle)
            v = -cols * math.sin(angle) + rows * math.cos(angle)
            half_w, half_h = rng.uniform(0.15, 0.35, 2) * size
            inside = torch.minimum(half_w - u.abs(), half_h - v.abs())
            masks.append((inside + 0.5).clamp_(0, 1))
    return torch.stack(masks)[:, None] if masks else torch.empty(0, 1, size, size)


class SyntheticMotion:
    """Random scenes with exact middle frames (see the module docstring)."""

    name = "synthetic"

    def __init__(self, textures: TextureBank, max_motion: float = 48.0, max_sprites: int = 3,
                 brightness: float = 0.3, static_background: float = 0.15):
        if max_motion < 0:
            raise ConfigError(f"max_motion={max_motion}: expected >= 0 pixels")
        if max_sprites < 0:
            raise ConfigError(f"max_sprites={max_sprites}: expected >= 0")
        self.textures = textures
        self.max_motion = float(max_motion)
        self.max_sprites = int(max_sprites)
        self.brightness = brightness
        self.static_background = static_background

    def describe(self) -> str:
        return (f"synthetic motion up to {self.max_motion:g} px, <= {self.max_sprites} sprites, "
                f"{len(self.textures)} texture images + procedural {self.textures.procedural:.2f}")

    def _displacements(self, rng: np.random.Generator, count: int) -> np.ndarray:
        magnitude = self.max_motion * rng.random(count) ** 1.5  # more small motions than large ones
        angle = rng.uniform(0, 2 * math.pi, count)
        return np.stack([magnitude * np.cos(angle), magnitude * np.sin(angle)], axis=1)

    def _rotations(self, rng: np.random.Generator, count: int, limit: float) -> np.ndarray:
        return np.where(rng.random(count) < 0.5, rng.uniform(-limit, limit, count), 0.0)

    def _zooms(self, rng: np.random.Generator, count: int, limit: float) -> np.ndarray:
        zoom = np.where(rng.random(count) < 0.5, rng.uniform(-limit, limit, count), 0.0)
        return zoom[:, None] + rng.uniform(-limit, limit, (count, 2)) * 0.2

    def background_params(self, rng: np.random.Generator, count: int) -> MotionParams:
        displacement = self._displacements(rng, count)
        displacement[rng.random(count) < self.static_background] = 0.0
        return MotionParams(displacement, self._rotations(rng, count, math.radians(10)),
                            self._zooms(rng, count, 0.1), np.zeros((count, 2)), np.ones(count))

    def sprite_params(self, rng: np.random.Generator, count: int, size: int) -> MotionParams:
        return MotionParams(self._displacements(rng, count), self._rotations(rng, count, math.radians(30)),
                            self._zooms(rng, count, 0.2), rng.uniform(-0.4, 0.4, (count, 2)) * size,
                            rng.uniform(0.25, 1.0, count))

    def background_size(self, size: int) -> int:
        """Texture side covering the crop through the largest motion (same parity as ``size``)."""
        margin = math.ceil(self.max_motion / 2 + 0.1 * size)
        return size + 2 * margin

    def sample_batch(self, rng: np.random.Generator, count: int, size: int) -> torch.Tensor:
        background_side = self.background_size(size)
        backgrounds = self.textures.sample(rng, count, background_side)
        frames = render(backgrounds, affine_thetas(self.background_params(rng, count), size, background_side),
                        size, "reflection")                                     # B,3,C,S,S
        sprites = rng.integers(0, self.max_sprites + 1, count)
        total = int(sprites.sum())
        if total:
            sprite_side = max(16, int(size * 0.6)) // 2 * 2
            layers = torch.cat([self.textures.sample(rng, total, sprite_side),
                                sprite_masks(rng, total, sprite_side)], dim=1)   # K,4,T,T
            rendered = render(layers, affine_thetas(self.sprite_params(rng, total, size), size, sprite_side),
                              size, "zeros")
            owners = np.repeat(np.arange(count), sprites)
            for layer, owner in enumerate(owners):  # back to front
                alpha = rendered[layer, :, 3:].clamp(0, 1)
                frames[owner] = frames[owner] * (1 - alpha) + rendered[layer, :, :3] * alpha
        gains = np.where(rng.random(count) < self.brightness, rng.uniform(-0.15, 0.15, count), 0.0)
        time = torch.tensor(TIMES).view(1, 3, 1, 1, 1)
        frames = frames * (1 + 2 * time * torch.from_numpy(gains).float().view(-1, 1, 1, 1, 1))
        return frames.clamp_(0, 1).mul_(255).round_().div_(255)
