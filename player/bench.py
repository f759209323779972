"""``fmsmi bench``: the file export's speed, per stage and end to end, against FFmpeg.

For each frame size asked (default: the input's own), the input is cut/scaled once into a
temporary clip; then, on that same clip and in the same run:

- ``fmsmi <backend>``: the real export pipeline (decode -> inference -> encode threads) for
  every backend usable here, with the model built and warmed up beforehand; per-stage busy
  time (ms per unit, see :meth:`ExportResult.stage_ms`) and end-to-end output fps;
- ``ffmpeg mci``: ``minterpolate=fps=2R:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1``;
- ``ffmpeg blend``: ``minterpolate=fps=2R:mi_mode=blend`` (frame blending);

both FFmpeg runs encode with the same encoder settings as fmsmi and copy the audio. The
ratios are FFmpeg's wall time over fmsmi's (how many times faster fmsmi is).

Every method runs ``repeat`` times (default 3), in interleaved rounds (mci, blend, each
backend; then again), so that a machine whose speed drifts slows every method alike; a
row shows the median run (its seconds and stage times) and keeps every run's seconds, and
the ratios are of medians. One run of each is a noisy ratio on a shared machine: the
export of a 50-frame 640x360 clip takes about a second.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fmsmi.engine.defaults import DEFAULT_MODEL
from fmsmi.errors import ConfigError, InputError

from .export import (
    ExportConfig,
    check_size,
    export,
    plan_threads,
    set_inference_threads,
)
from .media import EncodeSettings, VideoDecoder, VideoEncoder, VideoInfo, probe

log = logging.getLogger(__name__)

SAMPLE = ("data", "sample_bbb_360p.mp4")
FFMPEG_MODES = {
    "mci": "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
    "blend": "minterpolate=fps={fps}:mi_mode=blend",
}


def sample_clip() -> Path:
    """The bundled 2 s Big Buck Bunny clip (640x360, 25 fps, AAC)."""
    return Path(str(resources.files("fmsmi.player").joinpath(*SAMPLE)))


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"size={text!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if width < 2 or height < 2:
        raise ConfigError(f"size={text!r}: expected both sides >= 2")
    return width, height


@dataclass(frozen=True)
class BenchConfig:
    input: Path
    sizes: tuple[tuple[int, int], ...] = ()      # empty: the input's own size
    backends: tuple[str, ...] = ()               # empty: every backend usable here
    model: str = DEFAULT_MODEL
    factor: int = 2
    frames: int | None = None                    # cut the input to its first N frames
    workers: int | None = None
    threads: int | None = None
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    ffmpeg: bool = True
    repeat: int = 3                              # runs of each method, interleaved; rows show the median

    def __post_init__(self) -> None:
        if self.frames is not None and self.frames < 2:
            raise ConfigError(f"frames={self.frames}: expected >= 2")
        if self.repeat < 1:
            raise ConfigError(f"repeat={self.repeat}: expected >= 1")


@dataclass(frozen=True)
class Row:
    size: str
    method: str                  # "fmsmi cpu", "ffmpeg mci", ...
    seconds: float
    input_frames: int
    output_frames: int
    stage_ms: dict[str, float] | None = None
    vs: dict[str, float] | None = None   # FFmpeg seconds / these seconds, per FFmpeg mode
    workers: int | None = None           # fmsmi: inference workers x threads each
    threads: int | None = None
    runs: tuple[float, ...] = ()         # seconds of every run (the row is the median one)

    @property
    def fps(self) -> float:
        return self.output_frames / self.seconds if self.seconds > 0 else 0.0


def usable_backends(requested: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """(backends to run, {backend: why skipped})."""
    from fmsmi.engine import backends

    skipped: dict[str, str] = {}
    run: list[str] = []
    for name in requested or ("cpu", "torch", "trt"):
        if name not in ("cpu", "torch", "trt"):
            raise ConfigError(f"backend={name!r}: expected one of ['cpu', 'torch', 'trt']")
        reason = None
        if name == "torch":
            reason = backends.cuda_unavailable_reason()
            reason = reason and f"{reason}: on the CPU it is the cpu backend"
        elif name == "trt":
            reason = backends.trt_unavailable_reason()
        if reason and not requested:
            skipped[name] = reason
        else:
            run.append(name)
    return run, skipped


def prepare_clip(source: VideoInfo, size: tuple[int, int] | None, frames: int | None, folder: Path) -> Path:
    """The clip to measure: ``source`` itself, or its first ``frames`` frames scaled to ``size``
    (re-encoded at high quality, audio copied)."""
    width, height = size or (source.width, source.height)
    if (width, height) == (source.width, source.height) and frames is None:
        return source.path
    path = folder / f"clip_{width}x{height}.mp4"
    scaled = dataclasses.replace(source, width=width, height=height, sample_aspect_ratio=None)
    settings = EncodeSettings(codec="libx264", crf=12, preset="veryfast")
    copy_end = None
    if frames is not None:   # the audio that goes with the frames kept (nominal rate)
        copy_end = float(source.start_pts * source.time_base + frames / source.rate)
    with VideoDecoder(source.path, info=source) as decoder, \
            VideoEncoder(path, scaled, rate=source.rate, time_base=source.time_base, settings=settings,
                         copy_end=copy_end) as encoder:
        for index, (frame, pts) in enumerate(decoder.decoded()):
            if frames is not None and index >= frames:
                break
            scaled_frame = frame.reformat(width=width, height=height, interpolation="BICUBIC")
            encoder.write(decoder.to_rgb(scaled_frame), pts)
        encoder.finish()
    return path


def run_ffmpeg(clip: VideoInfo, mode: str, settings: EncodeSettings, factor: int, output: Path) -> Row:
    fps = clip.rate * factor
    fps_text = f"{fps.numerator}/{fps.denominator}" if fps.denominator != 1 else str(fps.numerator)
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(clip.path),
               "-vf", FFMPEG_MODES[mode].format(fps=fps_text), "-c:v", settings.codec]
    if settings.crf is not None:
        command += ["-crf", str(settings.crf)]
    if settings.preset is not None:
        command += ["-preset", settings.preset]
    command += ["-pix_fmt", "yuv420p", "-c:a", "copy", str(output)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise InputError(f"{clip.path}: ffmpeg {mode} failed: {done.stderr.strip().splitlines()[-1:]}")
    out_frames = probe(output).frame_count
    return Row(_size(clip), f"ffmpeg {mode}", seconds, clip.frame_count, out_frames)


def run_fmsmi(clip: VideoInfo, backend: str, config: BenchConfig, output: Path, interpolator) -> tuple[Row, float]:
    """The export on ``clip`` after a warm-up inference; (its row, the warm inference's ms)."""
    export_config = ExportConfig(input=clip.path, output=output, factor=config.factor, model=config.model,
                                 backend=backend, encode=config.encode, workers=config.workers,
                                 threads=config.threads)
    warm_ms = warm_up(interpolator, clip, export_config)
    started = time.perf_counter()
    result = export(export_config, progress=False, interpolator=interpolator)
    seconds = time.perf_counter() - started
    row = Row(_size(clip), f"fmsmi {backend}", seconds, result.input_frames, result.output_frames,
              stage_ms=result.stage_ms(), workers=result.workers, threads=result.threads)
    return row, warm_ms


def median_row(runs: list[Row]) -> Row:
    """The run with the median seconds (the lower middle one of an even count), with every
    run's seconds in ``runs``."""
    ordered = sorted(runs, key=lambda row: row.seconds)
    return dataclasses.replace(ordered[(len(ordered) - 1) // 2], runs=tuple(row.seconds for row in runs))


def warm_up(interpolator, clip: VideoInfo, config: ExportConfig) -> float:
    """One inference at the clip's size with the export's thread settings (first-call
    allocations, kernel selection), then one timed; its ms."""
    import torch

    _, threads = plan_threads(config, interpolator)
    previous = torch.get_num_threads()
    if threads is not None:
        set_inference_threads(threads)
    try:
        frame = torch.rand(1, 3, clip.height, clip.width)
        interpolator.interpolate_tensor(frame, frame)
        started = time.perf_counter()
        interpolator.interpolate_tensor(frame, frame)
        return 1e3 * (time.perf_counter() - started)
    finally:
        if threads is not None:
            set_inference_threads(previous, native=0)


def bench(config: BenchConfig) -> dict:
    """Run everything; returns the JSON-able report (``rows`` plus the environment)."""
    from fmsmi.engine import Interpolator

    source = probe(config.input)
    check_size(source)
    run_backends, skipped = usable_backends(config.backends)
    ffmpeg = shutil.which("ffmpeg") if config.ffmpeg else None
    if config.ffmpeg and ffmpeg is None:
        skipped["ffmpeg"] = "ffmpeg not found on PATH"
    interpolators = {}
    load_seconds = {}
    for backend in run_backends:
        started = time.perf_counter()
        interpolators[backend] = Interpolator(config.model, None, backend)
        load_seconds[backend] = time.perf_counter() - started
    rows: list[Row] = []
    warm_ms: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="fmsmi-bench-") as folder:
        folder = Path(folder)
        for size in config.sizes or (None,):
            clip = probe(prepare_clip(source, size, config.frames, folder))
            check_size(clip)
            label = _size(clip)
            ffmpeg_runs: dict[str, list[Row]] = {mode: [] for mode in FFMPEG_MODES} if ffmpeg else {}
            fmsmi_runs: dict[str, list[Row]] = {backend: [] for backend in interpolators}
            for _ in range(config.repeat):    # interleaved rounds: a drifting machine slows every method alike
                for mode, runs in ffmpeg_runs.items():
                    runs.append(run_ffmpeg(clip, mode, config.encode, config.factor, folder / f"ffmpeg_{mode}.mp4"))
                for backend, interpolator in interpolators.items():
                    row, warm_ms.setdefault(label, {})[backend] = run_fmsmi(
                        clip, backend, config, folder / f"fmsmi_{backend}.mp4", interpolator)
                    fmsmi_runs[backend].append(row)
            ffmpeg_rows = {mode: median_row(runs) for mode, runs in ffmpeg_runs.items()}
            for runs in fmsmi_runs.values():
                row = median_row(runs)
                vs = {mode: other.seconds / row.seconds for mode, other in ffmpeg_rows.items()}
                rows.append(dataclasses.replace(row, vs=vs or None))
            rows.extend(ffmpeg_rows.values())
    return {
        "input": str(config.input), "source": {"width": source.width, "height": source.height,
                                               "rate": float(source.rate), "frames": source.expected_frames},
        "factor": config.factor, "model": config.model, "frames": config.frames, "repeat": config.repeat,
        "encode": dataclasses.asdict(config.encode),
        "environment": environment(),
        "model_load_seconds": load_seconds, "warm_inference_ms": warm_ms, "skipped": skipped,
        "rows": [dict(dataclasses.asdict(row), fps=row.fps) for row in rows],
    }


def environment() -> dict:
    import torch
    from fmsmi.engine.op import native_unavailable_reason

    ffmpeg_version = None
    if shutil.which("ffmpeg"):
        first = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False).stdout.splitlines()
        ffmpeg_version = first[0] if first else None
    return {"cpu_count": os.cpu_count(), "machine": platform.machine(), "processor": _cpu_model(),
            "torch": torch.__version__,
            "native_op": native_unavailable_reason() or "loaded", "ffmpeg": ffmpeg_version,
            "python": platform.python_version()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _size(clip: VideoInfo) -> str:
    return f"{clip.width}x{clip.height}"


def format_table(report: dict) -> str:
    """The report as a plain-text table."""
    encode = report["encode"]
    source = report["source"]
    first = f", first {report['frames']} frames" if report["frames"] else ""
    repeat = report.get("repeat", 1)
    heading = (f"input: {report['input']} ({source['width']}x{source['height']}, {source['rate']:g} fps{first}), "
               f"x{report['factor']}, model {report['model']}; encoder {encode['codec']} crf {encode['crf']} "
               f"preset {encode['preset']}; {report['environment']['cpu_count']} CPUs, "
               f"native op: {report['environment']['native_op']}")
    columns = (f"{'size':<10} {'method':<13} {'out fps':>8} {'seconds':>8} {'frames':>11} "
               f"{'decode':>7} {'convert':>8} {'infer':>7} {'encode':>7} {'vs mci':>8} {'vs blend':>9}")
    lines = [heading, "", columns]
    for row in report["rows"]:
        stage = row["stage_ms"] or {}
        vs = row["vs"] or {}
        cells = [f"{stage[name]:>{width}.1f}" if name in stage else " " * width
                 for name, width in (("decode", 7), ("convert", 8), ("inference", 7), ("encode", 7))]
        ratios = [f"{vs[mode]:>{width - 1}.2f}x" if mode in vs else " " * width
                  for mode, width in (("mci", 8), ("blend", 9))]
        frames = f"{row['input_frames']}->{row['output_frames']}"
        lines.append(f"{row['size']:<10} {row['method']:<13} {row['fps']:>8.1f} {row['seconds']:>8.2f} {frames:>11} "
                     + " ".join(cells) + " " + " ".join(ratios))
    threads = {(row["workers"], row["threads"]) for row in report["rows"] if row["workers"]}
    lines.append("")
    lines.append("stage columns: ms per input frame (decode), per output frame (convert = RGB<->tensor/YUV, "
                 "encode), per synthesised frame (infer); busy time in each pipeline thread, which overlap.")
    lines.append("vs mci / vs blend: ffmpeg's wall time / fmsmi's (how many times faster fmsmi is)"
                 + (f"; each row is the median of {repeat} interleaved runs." if repeat > 1 else "."))
    for workers, per_worker in sorted(threads, key=str):
        lines.append(f"fmsmi inference: {workers} worker(s) x {per_worker or 'default'} thread(s)")
    for name, reason in report["skipped"].items():
        lines.append(f"skipped {name}: {reason}")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    """Output fps per method and size (left) and fmsmi's stage times (right), as a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("--plot: needs matplotlib (pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    sizes = list(dict.fromkeys(row["size"] for row in rows))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(1, len(methods))
    for index, method in enumerate(methods):
        values = [next((r["fps"] for r in rows if r["size"] == s and r["method"] == method), 0.0) for s in sizes]
        bars = left.bar([k + index * width for k in range(len(sizes))], values, width, label=method)
        left.bar_label(bars, fmt="%.1f", fontsize=8)
    left.set_xticks([k + width * (len(methods) - 1) / 2 for k in range(len(sizes))], sizes)
    left.set_ylabel(f"output frames per second (x{report['factor']})")
    left.set_title("end to end, same clip, same encoder")
    left.legend(fontsize=8)
    ours = [row for row in rows if row["stage_ms"]]
    labels = [f"{row['size']}\n{row['method']}" for row in ours]
    bottom = [0.0] * len(ours)
    for stage in ("decode", "convert", "inference", "encode"):
        values = [row["stage_ms"][stage] for row in ours]
        right.bar(labels, values, bottom=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, values)]
    right.set_ylabel("busy ms per unit (stages run in parallel threads)")
    right.set_title("fmsmi pipeline stages")
    right.legend(fontsize=8)
    figure.suptitle(f"fmsmi bench: {Path(report['input']).name}, {report['environment']['cpu_count']} CPUs")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_json(report: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(report, indent=2) + "\n")
