"""Benchmark of AdaptiveSepConv (reference vs native) and of the networks end to end.

    python bench/op_bench.py [--json FILE] [--repeat N] [--threads N]

Prints a table of median milliseconds and writes the same figures as JSON. Also measures
the peak memory of one reference training step at F=51 on 8 crops of 256x256 (in a
child process, so the figure is that step's alone). Timings on a shared 2-core machine are
noisy: compare ratios from one run, quote medians.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

import torch

SIZES = {"640x360": (640, 360), "1280x720": (1280, 720)}
TAPS = (5, 13, 51)


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def op_rows(repeat: int) -> list[dict]:
    from fmsmi.engine.op import adaptive_sepconv, native_unavailable_reason

    backends = ["reference"] + (["native"] if native_unavailable_reason() is None else [])
    rows = []
    for label, (width, height) in SIZES.items():
        for taps in TAPS:
            img = torch.rand(1, 3, height, width)
            kernel_v = torch.rand(1, taps, height, width) / taps
            kernel_h = torch.rand(1, taps, height, width) / taps
            row = {"size": label, "taps": taps}
            for backend in backends:
                # the reference at F=51 takes seconds per call: fewer repeats
                count = max(2, repeat // 5) if backend == "reference" and taps > 13 else repeat
                with torch.no_grad():
                    row[backend] = median_ms(lambda: adaptive_sepconv(img, kernel_v, kernel_h, 1, backend), count)
            rows.append(row)
    return rows


def network_rows(repeat: int) -> list[dict]:
    from fmsmi.engine import Interpolator

    rows = []
    for label, (width, height) in SIZES.items():
        interpolator = Interpolator("lite", backend="cpu")
        frame0 = torch.rand(1, 3, height, width)
        frame1 = torch.rand(1, 3, height, width)
        ms = median_ms(lambda: interpolator.interpolate_tensor(frame0, frame1), repeat)
        rows.append({"model": "lite", "size": label, "ms": ms})
    return rows


TRAIN_STEP = """
import torch
from fmsmi.engine.op import adaptive_sepconv

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

img = torch.rand(8, 3, 256, 256, requires_grad=True)
v = (torch.rand(8, 51, 256, 256) / 51).requires_grad_()
h = (torch.rand(8, 51, 256, 256) / 51).requires_grad_()
before = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")   # reset the peak (VmHWM) to the current RSS
adaptive_sepconv(img, v, h, 1, backend="{backend}").square().mean().backward()
print(status("VmHWM:") - before)
"""


def training_memory_mb(backend: str) -> float:
    """Peak RSS above the inputs (MiB) of one forward+backward at F=51, N=8, 256x256 (Linux)."""
    out = subprocess.run([sys.executable, "-c", TRAIN_STEP.format(backend=backend)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch and native threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from fmsmi.engine.op import native_unavailable_reason
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__},
              "op_ms": op_rows(args.repeat), "network_ms": network_rows(args.repeat),
              "train_step_peak_mb": {b: training_memory_mb(b) for b in
                                     ["reference"] + (["native"] if native_unavailable_reason() is None else [])}}
    print(f"AdaptiveSepConv forward, N=1 C=3, median ms ({result['machine']['threads']} threads)")
    print(f"{'size':<10} {'F':>3} {'reference':>10} {'native':>9} {'speed-up':>9}")
    for row in result["op_ms"]:
        native = row.get("native")
        speedup = f"{row['reference'] / native:8.1f}x" if native else "        -"
        print(f"{row['size']:<10} {row['taps']:>3} {row['reference']:>10.2f} "
              f"{native if native is not None else float('nan'):>9.2f} {speedup}")
    print("\nlite network end to end (Interpolator.interpolate_tensor, padded, cpu backend), median ms")
    for row in result["network_ms"]:
        print(f"{row['size']:<10} {row['ms']:>8.2f}")
    print("\npeak memory of one training step, F=51, 8x3x256x256 (MiB above start):")
    for backend, mb in result["train_step_peak_mb"].items():
        print(f"  {backend:<10} {mb:8.0f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
