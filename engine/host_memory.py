"""Process-wide host memory settings for frame pipelines (glibc malloc tuning)."""

from __future__ import annotations

import ctypes
import os
import sys


def tune_malloc(arenas: int = 2, mmap_threshold: int = 256 << 20, trim_threshold: int = 512 << 20) -> None:
    """glibc malloc for long-running frame pipelines (a user's MALLOC_* variables win).

    The CLI calls it first thing; a program that embeds ``Interpolator`` may call it too (it
    changes the whole process's malloc, so the engine never does it by itself).

    - arenas: with one arena per thread (decode, inference workers, encode, FFmpeg's and
      x264's threads) the resident memory of a long export climbed ~10 % over its first
      minutes before levelling off; with 2 it is flat from the first minute
      (docs/reliability.md, soak).
    - mmap and trim thresholds: frame-sized tensors (1-11 MB) above glibc's adaptive mmap
      threshold, or freed at the top of the heap, went back to the kernel and came back as
      fresh zeroed pages on the next frame. A 4 s `fmsmi play` at 640x360, five
      interleaved pairs: 217-342k page faults without, 92-96k with; CPU per middle frame
      median 69.1 -> 64.8 ms (docs/player.md). One forward pass of lite at 640x360 on
      one thread, alone: 43-51 ms without, 40-41 ms with, while its parts timed apart sum
      to 40-41 ms either way (bench/network_profile.py). Memory stays bounded: the
      pipelines allocate the same sizes every frame.
    Elsewhere than glibc: nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        for variable, option, value in (("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas),
                                        ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, mmap_threshold),
                                        ("MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, trim_threshold)):
            if not os.environ.get(variable):
                libc.mallopt(option, value)
    except (OSError, AttributeError):
        pass


M_TRIM_THRESHOLD = -1   # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
