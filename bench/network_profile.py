"""Where a network's time goes on the CPU: milliseconds per part of one forward pass.

    python bench/network_profile.py [--model lite] [--size WxH ...] [--threads 1]
                                    [--repeat N] [--rounds R] [--clip VIDEO] [--json FILE]

Parts, in the order the forward pass runs them (engine/network/model.py):

- ``align``: motion pre-alignment (configs with ``motion``; native for CPU fp32 inference);
- ``features``: stem, encoder and decoder;
- ``heads``: every kernel head's prediction (``predict_raw``: heads that share a feature map
  are one convolution);
- ``pyramid``: the area-downscaled frames the heads synthesize;
- ``synthesis L<level>``: the fused synthesis of each scale (native op);
- ``refine``: the GridNet and its residual added to the finest scale;
- ``forward``: the whole pass, timed on its own (not the sum of the parts).

Each part is timed by itself on the outputs of the parts before it: the median of
``--repeat`` calls after a warm-up, and of that the median over ``--rounds`` rounds with
the parts interleaved, so a machine whose speed drifts affects every part alike. Inputs are
random frames at the size given (unpadded: the size must be a multiple of the config's
``inference_multiple``), or with ``--clip`` two frames two apart from a video, resized: the
motion search costs the same either way, but random frames give a random field whose warp
reads memory all over. Prints a table and, with ``--json``, writes the figures. Say what
else was running when you quote them.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import time

import torch
from engine_speed import parse_size  # bench/ is the script's folder: first on sys.path
from fmsmi.engine.host_memory import tune_malloc
from fmsmi.engine.interpolator import build_network
from fmsmi.engine.network.model import pyramid
from fmsmi.engine.op import native, synthesis


def median_ms(call, repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def parts(network, frame0: torch.Tensor, frame1: torch.Tensor) -> dict:
    """Each part as a call on the outputs of the parts before it (all computed once here)."""
    features = network.features(frame0, frame1)
    raws = network.predict_raw(features)
    levels = [head.head.level for head in network.heads]
    images0, images1 = pyramid(frame0, levels), pyramid(frame1, levels)
    scales = network.synthesize(frame0, frame1, features)
    calls = {}
    if network.config.motion is not None:
        calls["align"] = lambda: network.align(frame0, frame1)
    calls |= {
        "features": lambda: network.features(frame0, frame1),
        "heads": lambda: network.predict_raw(features),
        "pyramid": lambda: (pyramid(frame0, levels), pyramid(frame1, levels)),
    }
    fused = network.fused_synthesis_applies(frame0)
    for head, raw in zip(network.heads, raws):
        level, taps, dilation = head.head.level, head.head.taps, head.head.dilation
        if fused:
            calls[f"synthesis L{level}"] = functools.partial(synthesis.fused_synthesis, images0[level],
                                                             images1[level], raw, taps, dilation)
        else:
            calls[f"synthesis L{level}"] = functools.partial(network.compose, head, images0[level],
                                                             images1[level], raw)
    if network.refine is not None:
        finest = min(scales)
        calls["refine"] = lambda: network.refine(scales, base=scales[finest])
    calls["forward"] = lambda: network(frame0, frame1)
    return calls


def clip_frames(path: str, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames 30 and 32 of a video as (1,3,H,W) floats, resized (bilinear)."""
    import av
    with av.open(path) as container:
        frames = [frame.to_ndarray(format="rgb24") for _, frame in zip(range(33), container.decode(video=0))]
    if len(frames) < 33:
        raise SystemExit(f"--clip {path}: expected at least 33 frames, got {len(frames)}")
    tensors = [torch.from_numpy(frames[k]).permute(2, 0, 1)[None].float().div(255) for k in (30, 32)]
    return tuple(torch.nn.functional.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)
                 .contiguous() for t in tensors)


def profile(model: str, width: int, height: int, repeat: int, rounds: int, clip: str | None = None) -> dict:
    network, _ = build_network(model)
    multiple = network.config.inference_multiple
    if width % multiple or height % multiple:
        raise SystemExit(f"--size {width}x{height}: expected multiples of {multiple} for {model!r}")
    if clip:
        frame0, frame1 = clip_frames(clip, width, height)
    else:
        generator = torch.Generator().manual_seed(0)
        frame0 = torch.rand(1, 3, height, width, generator=generator)
        frame1 = torch.rand(1, 3, height, width, generator=generator)
    with torch.inference_mode():
        calls = parts(network, frame0, frame1)
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                samples[name].append(median_ms(call, repeat))
    ms = {name: round(statistics.median(values), 2) for name, values in samples.items()}
    parts_sum = round(sum(value for name, value in ms.items() if name != "forward"), 2)
    return {"model": model, "size": f"{width}x{height}", "frames": clip or "random", "ms": ms,
            "sum_of_parts": parts_sum}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lite")
    parser.add_argument("--size", action="append", type=parse_size)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (PyTorch and the native op)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clip", help="time on two frames of this video (default: random frames)")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--untuned-malloc", action="store_true",
                        help="keep glibc's default malloc thresholds (the CLI tunes them: engine/host_memory.py)")
    args = parser.parse_args()
    if not args.untuned_malloc:
        tune_malloc()
    torch.set_num_threads(args.threads)
    native.set_threads(args.threads)
    results = [profile(args.model, width, height, args.repeat, args.rounds, args.clip)
               for width, height in (args.size or [(640, 360), (1280, 720)])]
    names = list(results[0]["ms"])
    print(f"{args.model}, {args.threads} thread(s), median ms of {args.rounds} rounds x {args.repeat} calls"
          f"{', glibc malloc defaults' if args.untuned_malloc else ''}")
    print(f"{'part':16s}" + "".join(f"{result['size']:>12s}" for result in results))
    for name in names:
        print(f"{name:16s}" + "".join(f"{result['ms'][name]:12.2f}" for result in results))
    print(f"{'(sum of parts)':16s}" + "".join(f"{result['sum_of_parts']:12.2f}" for result in results))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"threads": args.threads, "tuned_malloc": not args.untuned_malloc,
                       "machine": platform.processor() or platform.machine(),
                       "torch": torch.__version__, "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()
