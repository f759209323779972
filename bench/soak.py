"""Soak benchmark: memory and queues over a long export and a long headless playback.

    python bench/soak.py [--minutes 10] [--size 640x360] [--rate 25] [--mode export|play|both]
                         [--play-minutes M] [--clip CLIP] [--folder DIR] [--interval 10]
                         [--warmup 60] [--json FILE]
    python bench/soak.py --reanalyze SOAK.json --warmup 600

1. Generates a clip of ``--minutes`` (default 10) at 360p, 25 fps, H.264 + AAC: a textured
   background panning, a moving square, a new background every 30 s (scene cuts). Frames
   are drawn and encoded one at a time (memory stays flat), once per ``--folder``.
2. ``export``: ``fmsmi.player.export.export`` (what ``fmsmi interpolate`` runs) writes the
   clip at 2x with the default engine, in this process.
3. ``play``: the live player (``fmsmi play``'s ``Player``, default engine, no audio device
   needed: ``audio=False``) plays it in a window for ``--play-minutes`` (default: all of it),
   under a private Xvfb when ``DISPLAY`` is unset.

Each mode runs in its own process (``--mode both`` starts them one after the other). A
sampler thread reads the process's resident memory (VmRSS) every ``--interval`` seconds
and the pipeline's queue lengths every 0.2 s. The report: a table of the samples; RSS after
the ``--warmup`` seconds in 5-minute windows (single samples swing by tens of MB with the
frames in flight), the growth of the last window's median and peak over the first's, and a
least-squares slope; the largest length each queue reached against its capacity.
``--json`` writes everything; ``--reanalyze`` reports a JSON again with another warm-up.
Numbers are in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

AUDIO_RATE = 48000


# -- the clip -----------------------------------------------------------------------------------

def _texture(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.3, 1.0, size=(height // 8 + 1, width // 8 + 1, 1)).astype(np.float32)
    detail = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:height, :width]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    colour = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (xx / width + yy / (2 * height)) + p) for p in phase], -1)
    return (255 * colour * detail).clip(0, 255).astype(np.uint8)


def make_clip(path: Path, minutes: float, width: int, height: int, rate: int) -> Path:
    import av

    frames = round(minutes * 60 * rate)
    backgrounds = [_texture(2 * height, 2 * width, seed) for seed in range(4)]
    sprite = _texture(64, 64, 99)
    temporary = path.with_name(path.name + ".partial.mp4")
    with av.open(str(temporary), "w") as output:
        video = output.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "23"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = output.add_stream("aac", rate=AUDIO_RATE)
        audio.layout = "stereo"
        samples_per_frame = AUDIO_RATE // rate
        tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(samples_per_frame) / AUDIO_RATE)).astype(np.float32)
        for index in range(frames):
            background = backgrounds[(index // (30 * rate)) % len(backgrounds)]
            x, y = (3 * index) % width, (index // 2) % height
            image = background[y:y + height, x:x + width].copy()
            sx = int((width - 64) * (0.5 + 0.45 * np.sin(index / 40)))
            sy = int((height - 64) * (0.5 + 0.45 * np.cos(index / 55)))
            image[sy:sy + 64, sx:sx + 64] = sprite
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, rate)
            for packet in video.encode(frame):
                output.mux(packet)
            chunk = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            chunk.sample_rate = AUDIO_RATE
            chunk.pts = index * samples_per_frame
            for packet in audio.encode(chunk):
                output.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                output.mux(packet)
    os.replace(temporary, path)
    return path


# -- sampling -----------------------------------------------------------------------------------

def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    """RSS every ``interval`` s, queue lengths (``queues()``: name -> (length, capacity)) every 0.2 s."""

    def __init__(self, interval: float, queues, progress):
        super().__init__(name="soak-sampler", daemon=True)
        self.interval, self.queues, self.progress = interval, queues, progress
        self.samples: list[dict] = []
        self.max_queues: dict[str, list[int]] = {}     # name -> [max length, capacity]
        self.stop = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        next_sample = self.started_at
        while not self.stop.is_set():
            now = time.monotonic()
            lengths = self.queues() or {}
            for name, (length, capacity) in lengths.items():
                entry = self.max_queues.setdefault(name, [0, capacity])
                entry[0] = max(entry[0], length)
            if now >= next_sample:
                self.record(lengths)
                next_sample += self.interval
            self.stop.wait(0.2)
        self.record(self.queues() or {}, final=True)

    def record(self, lengths, final: bool = False) -> None:
        self.samples.append({"t": round(time.monotonic() - self.started_at, 1), "rss_mb": round(rss_mb(), 1),
                             "progress": self.progress(), "queues": {k: v[0] for k, v in lengths.items()},
                             **({"final": True} if final else {})})


def growth(samples: list[dict], warmup: float, window: float = 300.0) -> dict:
    """RSS after ``warmup`` seconds, in ``window``-second windows (single samples swing by
    tens of MB with the frames in flight): growth of the last window's median over the
    first's, the peaks, and a least-squares slope over all samples after warm-up. The last
    sample (taken after the run ended, its buffers freed) is left out."""
    after = [s for s in samples[:-1] if s["t"] >= warmup]
    if len(after) < 4:
        return {"note": f"fewer than 4 samples after the {warmup:.0f} s warm-up"}
    t = np.array([s["t"] for s in after])
    rss = np.array([s["rss_mb"] for s in after])
    window = min(window, (t[-1] - t[0]) / 3)
    first, last = rss[t < t[0] + window], rss[t > t[-1] - window]
    windows = []
    for start in np.arange(t[0], t[-1], window):
        inside = rss[(t >= start) & (t < start + window)]
        if len(inside):
            windows.append({"from_s": round(float(start)), "median_mb": round(float(np.median(inside)), 1),
                            "max_mb": round(float(inside.max()), 1)})
    slope = float(np.polyfit(t, rss, 1)[0]) * 3600
    return {"warmup_s": warmup, "window_s": round(float(window)),
            "first_window_median_mb": round(float(np.median(first)), 1),
            "last_window_median_mb": round(float(np.median(last)), 1),
            "growth_median_pct": round(100 * (np.median(last) - np.median(first)) / np.median(first), 2),
            "first_window_max_mb": float(first.max()), "last_window_max_mb": float(last.max()),
            "growth_max_pct": round(100 * (last.max() - first.max()) / first.max(), 2),
            "slope_mb_per_hour": round(slope, 2), "samples_after_warmup": len(after), "windows": windows}


# -- the two soaks ------------------------------------------------------------------------------------

def soak_export(clip: Path, folder: Path, interval: float) -> tuple[Sampler, dict]:
    from fmsmi.player import export as export_module

    pipelines = []

    class Watched(export_module._Pipeline):          # keeps a handle on the queues
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pipelines.append(self)

    export_module._Pipeline = Watched
    written = {"frames": 0}

    def queues():
        if not pipelines:
            return None
        p = pipelines[-1]
        return {"pairs": (p.pairs.qsize(), p.pairs.maxsize), "results": (p.results.qsize(), p.results.maxsize),
                "written (progress, unbounded)": (p.written.qsize(), 0)}

    sampler = Sampler(interval, queues, lambda: written["frames"])
    sampler.start()
    config = export_module.ExportConfig(input=clip, output=folder / "soak-2x.mp4")
    result = export_module.export(config, progress=False, on_frame=lambda n: written.__setitem__("frames", n))
    sampler.stop.set()
    sampler.join()
    summary = {"output_frames": result.output_frames, "input_frames": result.input_frames,
               "seconds": round(result.seconds, 1), "fps": round(result.fps, 2), "scene_cuts": result.scene_cuts,
               "damaged_packets": result.damaged_packets, "workers": result.workers,
               "ms_per_frame": {k: round(v, 2) for k, v in result.stage_ms().items()}}
    return sampler, summary


def _start_xvfb() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY") or os.environ.get("PYOPENGL_PLATFORM"):
        return None
    read_end, write_end = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x720x24",
                                "-nolisten", "tcp", "-noreset"], pass_fds=(write_end,),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        number = pipe.readline().strip().decode()
    os.environ["DISPLAY"] = f":{number}"
    return process


def soak_play(clip: Path, seconds: float | None, interval: float) -> tuple[Sampler, dict]:
    xvfb = _start_xvfb()
    try:
        from fmsmi.player.live.player import Player, PlayOptions

        holder = {}

        def queues():
            player = holder.get("player")
            if player is None:
                return None
            frames, present = player.pipeline.frames, player.pipeline.present
            return {"frames": (len(frames), frames.capacity), "present": (len(present), present.capacity)}

        sampler = Sampler(interval, queues, lambda: holder["player"].stats.frames_shown if "player" in holder else 0)
        player = Player(PlayOptions(input=clip, duration=seconds, audio=False), notice=print)
        holder["player"] = player
        sampler.start()
        stats = player.run()
        sampler.stop.set()
        sampler.join()
        keep = ("frames_shown", "frames_dropped", "frames_target", "achieved_fps", "target_fps", "playback_seconds",
                "dropped_late", "skipped_interpolations", "scene_cuts", "damaged_packets", "backend", "renderer",
                "inference_estimate_ms", "interpolation_too_slow", "media_seconds_played")
        return sampler, {key: stats.get(key) for key in keep}
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


# -- report ----------------------------------------------------------------------------------------

def report(mode: str, sampler: Sampler, summary: dict, warmup: float) -> dict:
    doc = {"mode": mode, "summary": summary, "rss": growth(sampler.samples, warmup),
           "max_queues": {name: {"max": length, "capacity": capacity or None}
                          for name, (length, capacity) in sampler.max_queues.items()},
           "samples": sampler.samples}
    names = sorted(sampler.max_queues)
    print(f"\n== soak: {mode} ==")
    print(f"{'t (s)':>8} {'RSS (MB)':>9} {'progress':>9}  " + "  ".join(f"{n[:12]:>12}" for n in names))
    for s in sampler.samples:
        print(f"{s['t']:>8.0f} {s['rss_mb']:>9.1f} {s['progress']:>9}  "
              + "  ".join(f"{s['queues'].get(n, 0):>12}" for n in names))
    print("summary:", json.dumps(summary))
    print_rss(doc["rss"])
    print("max queue lengths:", json.dumps(doc["max_queues"]))
    return doc


def print_rss(rss: dict) -> None:
    windows = rss.pop("windows", [])
    print("RSS after warm-up:", json.dumps(rss))
    for window in windows:
        print(f"  from {window['from_s']:>6} s: median {window['median_mb']:7.1f} MB, max {window['max_mb']:7.1f} MB")
    rss["windows"] = windows


def reanalyze(path: Path, warmup: float) -> dict:
    """The RSS analysis of a soak JSON again, with another warm-up."""
    doc = json.loads(path.read_text())
    for run in doc.get("runs", [doc]):
        run["rss"] = growth(run["samples"], warmup)
        print(f"\n== soak: {run['mode']} (re-analysed, warm-up {warmup:.0f} s) ==")
        print("summary:", json.dumps(run["summary"]))
        print_rss(run["rss"])
        print("max queue lengths:", json.dumps(run["max_queues"]))
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--play-minutes", type=float, default=None, help="play only this long (default: the clip)")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--rate", type=int, default=25)
    parser.add_argument("--mode", choices=("export", "play", "both"), default="both")
    parser.add_argument("--clip", type=Path, default=None, help="use this clip instead of generating one")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/fmsmi-soak"))
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the RSS baseline")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--reanalyze", type=Path, default=None, metavar="SOAK.json",
                        help="only print the RSS analysis of an earlier run's JSON, with --warmup")
    args = parser.parse_args(argv)
    if args.reanalyze is not None:
        doc = reanalyze(args.reanalyze, args.warmup)
        if args.json is not None:
            args.json.write_text(json.dumps(doc, indent=2) + "\n")
        return 0
    args.folder.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.lower().split("x"))
    clip = args.clip or args.folder / f"soak-{args.minutes:g}min-{width}x{height}-{args.rate}fps.mp4"
    if not clip.exists():
        started = time.monotonic()
        make_clip(clip, args.minutes, width, height, args.rate)
        print(f"generated {clip} in {time.monotonic() - started:.0f} s")
    if args.mode == "both":
        docs = []
        for mode in ("export", "play"):
            out = args.folder / f"soak-{mode}.json"
            command = [sys.executable, __file__, "--mode", mode, "--clip", str(clip), "--folder", str(args.folder),
                       "--interval", str(args.interval), "--warmup", str(args.warmup), "--json", str(out)]
            if args.play_minutes is not None:
                command += ["--play-minutes", str(args.play_minutes)]
            subprocess.run(command, check=True)
            docs.append(json.loads(out.read_text()))
        doc = {"clip": str(clip), "runs": docs}
    else:
        if args.mode == "export":
            sampler, summary = soak_export(clip, args.folder, args.interval)
        else:
            seconds = None if args.play_minutes is None else 60 * args.play_minutes
            sampler, summary = soak_play(clip, seconds, args.interval)
        doc = report(args.mode, sampler, summary, args.warmup)
        doc["clip"] = str(clip)
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
