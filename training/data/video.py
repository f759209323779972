"""Triplets from video files: frames (i, i+k, i+2k), decoded once into memory with PyAV.

PyAV hands over the frames the stream holds, one per coded picture, with their own
timestamps (passthrough): no frame-rate conversion ever duplicates or drops a frame (the
ffmpeg CLI's default does, and a duplicated frame poisons a triplet). Triplets across a
scene cut or around a duplicated/stuttering frame are still left out, from a cheap
per-transition difference measure.

The last ``holdout`` fraction of every clip is kept for validation (split="val"); training
triplets (split="train") never reach into it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
from fmsmi.errors import ConfigError, InputError

from .base import Triplet, center_crop, random_crop, to_batch

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".webm", ".m4v", ".ts", ".y4m", ".flv", ".wmv")
CUT_MIN = 20.0          # a transition is a cut when its difference exceeds this (0-255 luma)...
CUT_RATIO = 4.0         # ...and this many times the clip's median transition difference
STUTTER_RATIO = 0.2     # a triplet is uneven (duplicate frame, stutter) when one half moves this much less


@dataclass
class Clip:
    name: str
    frames: np.ndarray        # T,H,W,3 uint8
    transitions: np.ndarray   # T-1: mean |luma difference| of consecutive frames (downscaled)
    cuts: np.ndarray          # T-1 bool


def find_videos(paths: Iterable[str | Path]) -> list[Path]:
    """Video files named in ``paths`` or found (recursively) in the folders among them."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: video file or folder not found")
    if not found:
        raise InputError(f"{', '.join(map(str, paths))}: no video files found (suffixes {', '.join(VIDEO_SUFFIXES)})")
    return found


def decode_frames(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Every decoded frame of the first video stream, as T,H,W,3 uint8 RGB."""
    path = Path(path)
    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except av.FFmpegError as exc:
        raise InputError(f"{path}: cannot decode ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise InputError(f"{path}: no frames decoded")
    return np.stack(frames)


def transition_differences(frames: np.ndarray, block: int = 4) -> np.ndarray:
    """Mean |luma_t+1 - luma_t| of the frames averaged over block x block tiles (0-255)."""
    count, height, width = frames.shape[:3]
    height, width = max(height // block, 1) * block, max(width // block, 1) * block
    luma = np.empty((count, height // block, width // block), np.float32)
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    for index, frame in enumerate(frames):  # one frame at a time: no T,H,W float copy
        tiles = frame[:height, :width].astype(np.float32) @ weights
        luma[index] = tiles.reshape(height // block, block, width // block, block).mean(axis=(1, 3))
    return np.abs(np.diff(luma, axis=0)).mean(axis=(1, 2))


def load_clip(path: str | Path, max_frames: int | None = None) -> Clip:
    frames = decode_frames(path, max_frames)
    transitions = transition_differences(frames)
    median = float(np.median(transitions)) if len(transitions) else 0.0
    cuts = (transitions > CUT_MIN) & (transitions > CUT_RATIO * median)
    return Clip(Path(path).name, frames, transitions, cuts)


class ClipTriplets:
    """Triplets (i, i+k, i+2k) for every gap k in ``gaps`` from in-memory clips."""

    def __init__(self, clips: Sequence[Clip], gaps: Sequence[int] = (1, 2), split: str = "train",
                 holdout: float = 0.1, name: str = "clips"):
        if split not in ("train", "val", "all"):
            raise ConfigError(f"split={split!r}: expected 'train', 'val' or 'all'")
        if not gaps or any(int(k) < 1 for k in gaps):
            raise ConfigError(f"gaps={list(gaps)}: expected frame gaps >= 1")
        if not 0 <= holdout < 1:
            raise ConfigError(f"holdout={holdout}: expected a fraction in [0, 1)")
        self.name = name
        self.clips = list(clips)
        self.gaps = tuple(int(k) for k in gaps)
        index = []
        for clip_index, clip in enumerate(self.clips):
            count = len(clip.frames)
            boundary = count - round(count * holdout) if split != "all" else count
            first, last = (0, boundary) if split != "val" else (boundary, count)
            for gap in self.gaps:
                for start in range(first, last - 2 * gap):
                    if self._usable(clip, start, gap):
                        index.append((clip_index, start, gap))
        self.index = np.array(index, dtype=np.int64).reshape(-1, 3)
        if split == "train" and not len(self.index):
            raise InputError(f"{', '.join(c.name for c in self.clips)}: no usable triplets for gaps {self.gaps}")

    @staticmethod
    def _usable(clip: Clip, start: int, gap: int) -> bool:
        if clip.cuts[start:start + 2 * gap].any():
            return False
        first = float(clip.transitions[start:start + gap].sum())
        second = float(clip.transitions[start + gap:start + 2 * gap].sum())
        return min(first, second) >= STUTTER_RATIO * max(first, second)

    def __len__(self) -> int:
        return len(self.index)

    def triplet(self, item: int) -> Triplet:
        clip_index, start, gap = self.index[item]
        frames = self.clips[clip_index].frames
        return frames[start], frames[start + gap], frames[start + 2 * gap]

    def describe(self) -> str:
        counts = {k: int((self.index[:, 2] == k).sum()) for k in self.gaps}
        return f"{len(self.clips)} clips, {len(self)} triplets (per gap {counts})"

    def sample_batch(self, rng: np.random.Generator, count: int, size: int) -> torch.Tensor:
        items = rng.integers(0, len(self.index), count)
        return to_batch([random_crop(self.triplet(int(i)), rng, size) for i in items])

    def fixed_crops(self, count: int, size: int) -> list[Triplet]:
        """``count`` triplets spread evenly over the index, centre-cropped (a validation set)."""
        if not len(self.index):
            return []
        picks = np.linspace(0, len(self.index) - 1, min(count, len(self.index))).round().astype(int)
        return [center_crop(self.triplet(int(i)), size) for i in picks]


def load_clips(paths: Iterable[str | Path], max_frames: int | None = None) -> list[Clip]:
    clips = []
    for path in find_videos(paths):
        clip = load_clip(path, max_frames)
        log.info("clip %s: %d frames %dx%d, %d cuts", clip.name, len(clip.frames), clip.frames.shape[2],
                 clip.frames.shape[1], int(clip.cuts.sum()))
        clips.append(clip)
    return clips
