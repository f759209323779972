"""Measurements behind the CPU export engine's choices (docs/interpolate.md quotes them).

    python bench/cpu_engine.py [--input CLIP] [--size WxH ...] [--repeat N] [--json FILE] [--no-ort]

1. Each pipeline stage alone, one after the other, inference on one thread: decode (+ RGB),
   the tensor conversions, inference, YUV conversion + libx264 encode -- each stage's cost.
2. Inference runtimes for the network, with 1 and 2 threads, each in its own process:
   PyTorch eager with the native op (what ships); PyTorch without the op (its convolutions
   and resampling only); onnxruntime on that same op-less graph (dynamo exporter; the op has
   no onnxruntime kernel here, so this compares the two runtimes on everything else).
3. The export end to end with 2 single-threaded inference workers (the default on two
   cores), 1 worker of 2 threads, and 1 worker of 1 thread, in 3 interleaved rounds.

Timings on a shared 2-core machine are noisy: run when it is quiet, quote medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from fmsmi.engine import Interpolator
from fmsmi.player.bench import parse_size, prepare_clip, sample_clip
from fmsmi.player.export import (
    ExportConfig,
    _to_image,
    _to_tensor,
    export,
    set_inference_threads,
)
from fmsmi.player.media import EncodeSettings, VideoDecoder, VideoEncoder, probe


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - started))
    return statistics.median(times)


def stages_alone(clip: Path, interpolator: Interpolator, repeat: int) -> dict:
    info = probe(clip)
    started = time.perf_counter()
    with VideoDecoder(clip) as decoder:
        frames = [decoder.to_rgb(frame) for frame, _ in decoder.decoded()]
    decode = 1e3 * (time.perf_counter() - started) / len(frames)
    to_tensor = median_ms(lambda: _to_tensor(frames[0]), repeat)
    tensor0, tensor1 = _to_tensor(frames[0]), _to_tensor(frames[1])
    inference = median_ms(lambda: interpolator.interpolate_tensor(tensor0, tensor1), repeat)
    middle = interpolator.interpolate_tensor(tensor0, tensor1)
    to_image = median_ms(lambda: _to_image(middle, False), repeat)
    with tempfile.TemporaryDirectory() as folder:
        encoder = VideoEncoder(Path(folder) / "e.mp4", info, rate=info.rate * 2, time_base=info.time_base / 2,
                               settings=EncodeSettings(), copy_streams=False)
        started = time.perf_counter()
        for index, image in enumerate(frames + frames):
            encoder.write(image, index * info.nominal_step)
        encoder.finish()
        encode = 1e3 * (time.perf_counter() - started) / (2 * len(frames))
    return {"decode+rgb ms/frame": decode, "rgb->tensor ms": to_tensor, "inference ms": inference,
            "tensor->rgb ms": to_image, "yuv+x264 encode ms/frame": encode}


RUNTIMES = ("torch-native-op", "torch-opless", "ort-opless")


def runtime_child(mode: str, threads: int, width: int, height: int, repeat: int, onnx_path: str) -> float:
    """Median ms of one network forward in this process, with ``threads`` set once."""
    from fmsmi.engine.frames import pad_to_multiple
    from fmsmi.engine.network import VFIFMSMI, get_config
    from fmsmi.engine.op import adaptive_sepconv, native

    torch.set_num_threads(threads)
    native.set_threads(threads)
    config = get_config("lite")
    network = VFIFMSMI(config).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    frame0 = pad_to_multiple(torch.rand(1, 3, height, width), config.multiple)
    frame1 = pad_to_multiple(torch.rand(1, 3, height, width), config.multiple)
    if mode == "torch-native-op":
        network.set_sepconv(lambda img, v, h, d: adaptive_sepconv(img, v, h, d))
    else:   # a stand-in for the op: same shapes, negligible cost, exportable to standard ONNX
        network.set_sepconv(lambda img, v, h, d: img * (v[:, :1] + h[:, :1]))
    if mode == "ort-opless":
        import onnxruntime

        if not Path(onnx_path).exists():
            torch.onnx.export(network, (frame0, frame1), onnx_path, dynamo=True, opset_version=18)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        names = [item.name for item in session.get_inputs()]
        feeds = {names[0]: frame0.numpy(), names[1]: frame1.numpy()}
        return median_ms(lambda: session.run(None, feeds), repeat)
    with torch.inference_mode():
        return median_ms(lambda: network(frame0, frame1), repeat)


def runtimes(width: int, height: int, repeat: int, ort: bool, rounds: int = 3) -> dict:
    """Each runtime x {1, 2} threads in its own process (thread pools are set once per
    process), in interleaved rounds; the median of the rounds' medians."""
    modes = [m for m in RUNTIMES if ort or not m.startswith("ort")]
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        onnx_path = str(Path(folder) / "lite_opless.onnx")
        if ort:   # export once, outside the timed rounds
            subprocess.run([sys.executable, __file__, "--child", "ort-opless", "1", str(width), str(height), "1",
                            onnx_path], check=True, capture_output=True)
        for _ in range(rounds):
            for mode in modes:
                for threads in (1, 2):
                    done = subprocess.run([sys.executable, __file__, "--child", mode, str(threads), str(width),
                                           str(height), str(repeat), onnx_path],
                                          check=True, capture_output=True, text=True)
                    results.setdefault(f"{mode}, {threads} thread(s)", []).append(float(done.stdout.split()[-1]))
    return {name: statistics.median(values) for name, values in results.items()}


def end_to_end(clip: Path, interpolator: Interpolator, workers: int, threads: int) -> dict:
    info = probe(clip)
    frame = torch.rand(1, 3, info.height, info.width)
    interpolator.interpolate_tensor(frame, frame)
    with tempfile.TemporaryDirectory() as folder:
        config = ExportConfig(input=clip, output=Path(folder) / "out.mp4", workers=workers, threads=threads)
        result = export(config, progress=False, interpolator=interpolator)
    return {"workers": workers, "threads": threads, "fps out": result.fps, "seconds": result.seconds,
            "stage ms": result.stage_ms()}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, threads, width, height, repeat, onnx_path = sys.argv[2:8]
        print(runtime_child(mode, int(threads), int(width), int(height), int(repeat), onnx_path))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=None)
    parser.add_argument("--size", action="append", default=[])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-ort", action="store_true")
    args = parser.parse_args()
    source = probe(args.input or sample_clip())
    report = {"input": str(source.path), "cpus": torch.get_num_threads(), "sizes": {}}
    with tempfile.TemporaryDirectory() as folder:
        for size in [parse_size(s) for s in args.size] or [(source.width, source.height)]:
            clip = prepare_clip(source, size, args.frames, Path(folder))
            label = f"{size[0]}x{size[1]}"
            interpolator = Interpolator("lite", backend="cpu", threads=1)
            set_inference_threads(1)
            entry = {"stages alone (1 thread)": stages_alone(clip, interpolator, args.repeat),
                     "inference runtimes ms": runtimes(*size, args.repeat, not args.no_ort)}
            plans = ((2, 1), (1, 2), (1, 1))
            rounds = [[end_to_end(clip, interpolator, *plan) for plan in plans] for _ in range(3)]
            entry["end to end, median fps of 3 interleaved rounds"] = {
                f"{workers} worker(s) x {threads} thread(s)": statistics.median(r[k]["fps out"] for r in rounds)
                for k, (workers, threads) in enumerate(plans)}
            torch.set_num_threads(report["cpus"])
            report["sizes"][label] = entry
            print(label, json.dumps(entry, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
