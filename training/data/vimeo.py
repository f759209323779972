"""Vimeo90K triplets: <root>/tri_trainlist.txt or tri_testlist.txt naming sequences/XXXXX/YYYY/.

Each sequence folder holds im1.png, im2.png (the truth) and im3.png. 51k triplets do not fit
in memory decoded; they are read per sample (the batch loader's prefetch thread overlaps
the reading with training).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from fmsmi.errors import ConfigError, InputError

from .base import Triplet, random_crop, to_batch
from .images import read_image

LISTS = {"train": "tri_trainlist.txt", "test": "tri_testlist.txt"}


def read_list(root: Path, split: str) -> list[Path]:
    if split not in LISTS:
        raise ConfigError(f"split={split!r}: expected one of {sorted(LISTS)}")
    listing = root / LISTS[split]
    if not listing.is_file():
        raise InputError(f"{listing}: Vimeo90K list not found (expected {root}/{LISTS[split]} and {root}/sequences/)")
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    if not names:
        raise InputError(f"{listing}: empty Vimeo90K list")
    return [root / "sequences" / name for name in names]


class VimeoTriplets:
    name = "vimeo90k"

    def __init__(self, root: str | Path, split: str = "train"):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: Vimeo90K folder not found")
        self.folders = read_list(self.root, split)
        missing = [f for f in self.folders[:1] if not (f / "im1.png").is_file()]
        if missing:
            raise InputError(f"{missing[0] / 'im1.png'}: Vimeo90K frame not found")

    def __len__(self) -> int:
        return len(self.folders)

    def triplet(self, item: int) -> Triplet:
        folder = self.folders[item]
        return tuple(read_image(folder / f"im{k}.png") for k in (1, 2, 3))

    def describe(self) -> str:
        return f"Vimeo90K {self.root}: {len(self)} triplets"

    def sample_batch(self, rng: np.random.Generator, count: int, size: int) -> torch.Tensor:
        items = rng.integers(0, len(self.folders), count)
        return to_batch([random_crop(self.triplet(int(i)), rng, size) for i in items])
