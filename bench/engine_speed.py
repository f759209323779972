"""Interpolation speed of each shipped config on the CPU: milliseconds per middle frame.

    python bench/engine_speed.py [--size WxH ...] [--frames N] [--rounds R] [--json FILE]

For each config with shipped weights and each size (default 640x360 and 1280x720): the
``Interpolator`` (uint8 frames in, uint8 frame out, padding included) run

- *latency*: one call at a time on one thread;
- *throughput on all cores*: one single-threaded worker per core, each interpolating its
  own pairs (what ``fmsmi interpolate`` and ``fmsmi play`` do on the CPU): wall time over
  middle frames.

Each figure is the median of ``--rounds`` rounds of ``--frames`` frames after a warm-up.
Prints a table and, with ``--json``, writes the rows. Quote it with what else was running:
on a shared machine the figures move by tens of percent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time

import numpy as np
import torch

DEFAULT_SIZES = ("640x360", "1280x720")


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--size {text!r}: expected WxH, e.g. 640x360") from None
    return width, height


def frames_for(width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` + 1 frames of a textured pattern moving 3 px a frame (content barely matters
    for the speed of a convolutional network, but all-equal frames would be atypical)."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height, width + 3 * (count + 1), 3), dtype=np.uint8)
    return [np.ascontiguousarray(texture[:, 3 * k:3 * k + width]) for k in range(count + 1)]


def latency_ms(interpolator, frames: list[np.ndarray]) -> float:
    started = time.perf_counter()
    for frame0, frame1 in zip(frames, frames[1:]):
        interpolator.interpolate(frame0, frame1)
    return 1e3 * (time.perf_counter() - started) / (len(frames) - 1)


def throughput_ms(interpolator, frames: list[np.ndarray], workers: int) -> float:
    pairs = list(zip(frames, frames[1:]))

    def work(share):
        for frame0, frame1 in share:
            interpolator.interpolate(frame0, frame1)

    threads = [threading.Thread(target=work, args=(pairs[k::workers],)) for k in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 1e3 * (time.perf_counter() - started) / len(pairs)


def measure(model: str, size: tuple[int, int], count: int, rounds: int, workers: int) -> dict:
    from fmsmi.engine import Interpolator
    from fmsmi.engine.op import native

    interpolator = Interpolator(model, backend="cpu", threads=1)
    native.set_threads(1)
    frames = frames_for(*size, count)
    latency_ms(interpolator, frames[:3])                     # warm-up
    throughput_ms(interpolator, frames[:2 * workers + 1], workers)
    latency = [latency_ms(interpolator, frames) for _ in range(rounds)]
    throughput = [throughput_ms(interpolator, frames, workers) for _ in range(rounds)]
    return {"model": model, "size": f"{size[0]}x{size[1]}", "frames": count, "rounds": rounds,
            "latency_ms_1_thread": round(statistics.median(latency), 1),
            "ms_per_frame_all_cores": round(statistics.median(throughput), 1), "workers": workers,
            "latency_rounds": [round(v, 1) for v in latency], "throughput_rounds": [round(v, 1) for v in throughput]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", action="append", help="WxH; repeat for several (default 640x360, 1280x720)")
    parser.add_argument("--frames", type=int, default=12, help="middle frames per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    from fmsmi.engine.host_memory import tune_malloc
    from fmsmi.engine.network import CONFIGS
    from fmsmi.engine.weights import shipped_weights

    tune_malloc()       # as the CLI does (engine/host_memory.py)

    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    models = [name for name in CONFIGS if shipped_weights(name) is not None]
    rows = [measure(model, parse_size(size), args.frames, args.rounds, workers)
            for model in models for size in (args.size or DEFAULT_SIZES)]
    print(f"{platform.processor() or platform.machine()}, {workers} cores, torch {torch.__version__}")
    print(f"{'model':8} {'size':10} {'1 thread ms':>12} {f'{workers} workers ms/frame':>22}")
    for row in rows:
        print(f"{row['model']:8} {row['size']:10} {row['latency_ms_1_thread']:>12.1f} "
              f"{row['ms_per_frame_all_cores']:>22.1f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"cores": workers, "torch": torch.__version__, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
