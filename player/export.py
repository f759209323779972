"""File export at 2x or 4x the frame rate: decode -> inference -> encode, in threads.

    result = export(ExportConfig(input=Path("in.mp4"), output=Path("out.mp4"), factor=2))

Worker threads joined by bounded queues (memory stays bounded whatever the length):

    decode (PyAV, RGB, tensor, scene score) -> pairs -> inference workers (Interpolator)
        -> results -> encode (back in order; RGB->YUV, x264, mux, audio/subtitle copy)

On the CPU the inference runs as one single-threaded worker per core, each on its own
pair of frames: PyTorch's intra-op threads wait for each other at every layer, and on two
cores shared with decoding and encoding (or anything else) that cost more than it gained
(bench/cpu_engine.py, docs/interpolate.md). PyAV, NumPy and the network release the GIL,
so all of it overlaps. A worker that fails puts its exception on the main thread's queue
and stops the others; the main thread re-raises it. The output is written to a temporary
file beside OUTPUT and renamed at the end: a failed or interrupted run (Ctrl-C, an
exception from the progress callback) leaves no OUTPUT and no temporary file.

Timestamps: with ``factor`` F the output time base is the input's / F, an original frame
keeps its pts (times F) and each new frame sits at the midpoint of its neighbours (exact
integers; x4 by recursion), so VFR sources stay right. The last frame is repeated to fill
its own interval, so the duration is the source's. At a scene cut the earlier frame is
repeated instead of blending two shots.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fmsmi.engine.defaults import DEFAULT_MODEL
from fmsmi.engine.op import pixels
from fmsmi.errors import ConfigError

from .media import (
    EncodeSettings,
    SceneCutDetector,
    VideoDecoder,
    VideoEncoder,
    VideoInfo,
    probe,
)
from .media.probe import MAX_PIXELS  # noqa: F401  (the limit lives in the media layer; re-exported)
from .media.probe import check_size as _check_size
from .media.scene import DEFAULT_THRESHOLD

log = logging.getLogger(__name__)

FACTORS = (2, 4)
_POLL = 0.1                   # seconds between checks of the stop flag while blocked


@dataclass(frozen=True)
class ExportConfig:
    input: Path
    output: Path
    factor: int = 2
    model: str = DEFAULT_MODEL
    backend: str = "auto"
    weights: Path | None = None
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    scene_threshold: float = DEFAULT_THRESHOLD
    workers: int | None = None        # parallel inference workers (None: one per core on the CPU, else 1)
    threads: int | None = None        # intra-op threads of each worker (None: 1 with several workers, else all)
    queue_frames: int = 4             # frame pairs buffered between decode and inference

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", Path(self.input))
        object.__setattr__(self, "output", Path(self.output))
        if self.weights is not None:
            object.__setattr__(self, "weights", Path(self.weights))
        if self.factor not in FACTORS:
            raise ConfigError(f"factor={self.factor}: expected one of {list(FACTORS)}")
        if not 0.0 <= self.scene_threshold <= 1.0:
            raise ConfigError(f"scene_threshold={self.scene_threshold}: expected a value in [0, 1] (1 disables)")
        if self.queue_frames < 1:
            raise ConfigError(f"queue_frames={self.queue_frames}: expected >= 1")
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}={value}: expected an integer >= 1")
        if not self.output.suffix:
            raise ConfigError(f"output {self.output}: expected a file name with a container extension (.mp4, .mkv, .mov)")
        if self.output.exists() and self.input.exists() and self.output.samefile(self.input):
            raise ConfigError(f"output {self.output}: is the input file; expected a different path")


@dataclass(frozen=True)
class ExportResult:
    output: Path
    input_frames: int
    output_frames: int
    interpolated_frames: int          # frames the network synthesised
    scene_cuts: int
    seconds: float                    # wall time of the pipeline (model load excluded)
    stage_seconds: dict[str, float]   # busy time per stage: decode, convert, inference, encode
    workers: int = 1                  # parallel inference workers
    threads: int | None = None        # intra-op threads of each (None: left as the caller set them)
    damaged_packets: int = 0          # input packets skipped as damaged (decoding went on past them)

    @property
    def fps(self) -> float:
        """Output frames per second of wall time."""
        return self.output_frames / self.seconds if self.seconds > 0 else 0.0

    def stage_ms(self) -> dict[str, float]:
        """Milliseconds per unit: decode per input frame, inference per synthesised frame,
        convert and encode per output frame."""
        units = {"decode": self.input_frames, "convert": self.output_frames,
                 "inference": self.interpolated_frames, "encode": self.output_frames}
        return {stage: 1e3 * self.stage_seconds[stage] / units[stage] if units[stage] else 0.0
                for stage in units}


class _End:
    """No more work."""


@dataclass(frozen=True)
class _Failure:
    error: BaseException


@dataclass(frozen=True, slots=True)
class _Source:
    pts: int                 # in the output time base
    image: np.ndarray        # RGB, uint8 or uint16
    tensor: torch.Tensor     # (1,3,H,W) float in [0,1]
    frame: Any = None        # the decoded av.VideoFrame (encoded as it is when the formats match)


@dataclass(frozen=True, slots=True)
class _Pair:
    """One unit of inference work: frame0, and the frames between it and frame1."""
    sequence: int
    frame0: _Source
    frame1: _Source | None   # None: frame0 is the last frame
    cut: bool                # a scene cut between the two: repeat frame0, do not blend
    step: int                # frame0's interval, output time base (for the last frame)


@dataclass(frozen=True, slots=True)
class _Out:
    pts: int
    image: np.ndarray | None          # an original (or repeated) frame, or
    tensor: torch.Tensor | None       # a synthesised one
    duration: int
    frame: Any = None                 # an original's decoded av.VideoFrame


@dataclass(frozen=True, slots=True)
class _Result:
    sequence: int
    frames: list[_Out]
    last: bool


class _Stopped(Exception):
    """Raised inside a worker when the run is being stopped."""


class _Stats:
    """Per-stage busy time and counters, added to from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds = {"decode": 0.0, "convert": 0.0, "inference": 0.0, "encode": 0.0}
        self.counts = {"input_frames": 0, "output_frames": 0, "interpolated_frames": 0, "scene_cuts": 0,
                       "damaged_packets": 0}

    def add(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        with self._lock:
            self.seconds[stage] += now - started
        return now

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n


def export(config: ExportConfig, *, progress: bool = True, on_frame: Callable[[int], Any] | None = None,
           interpolator=None) -> ExportResult:
    """Interpolate ``config.input`` into ``config.output``; see the module docstring.

    ``on_frame(n)`` is called in the calling thread with the number of frames written so
    far (raising from it aborts the run, as Ctrl-C does). ``interpolator`` reuses a built
    :class:`~fmsmi.engine.Interpolator` (the benchmark warms one up); None builds one.
    PyTorch's thread count is set for the run (see ExportConfig.threads) and restored after.
    """
    info = probe(config.input)
    check_size(info)
    if not config.output.parent.is_dir():
        raise ConfigError(f"output {config.output}: folder {config.output.parent} does not exist")
    if not os.access(config.output.parent, os.W_OK):     # before the model loads (a read-only file system too)
        raise ConfigError(f"output {config.output}: folder {config.output.parent} is not writable")
    if interpolator is None:
        from fmsmi.engine import Interpolator
        interpolator = Interpolator(config.model, config.weights, config.backend)
    workers, threads = plan_threads(config, interpolator)
    output = config.output
    temporary = partial_path(output)
    torch_threads = torch.get_num_threads()
    # The objects alive before the run (the loaded modules, a host program's) are moved out
    # of the collector's sight while it runs: each frame creates small objects, and every
    # full collection then scanned the whole heap instead of what the run made (the export
    # of a 640x360 clip, medians of two sets of 6 interleaved runs: 96.3 vs 89.7 and 95.0 vs
    # 86.1 output fps, 20.0 vs 21.3 and 20.6 vs 22.4 ms of CPU per output frame). The live
    # player does the same.
    gc.freeze()
    try:
        if threads is not None:
            set_inference_threads(threads)
        result = _Pipeline(config, info, interpolator, temporary, workers).run(progress, on_frame)
        os.replace(temporary, output)
    finally:
        gc.unfreeze()
        try:
            temporary.unlink(missing_ok=True)
        except OSError as exc:   # e.g. the file system turned read-only: say where the partial file is
            log.warning("cannot remove the partial file %s: %s", temporary, exc.strerror or exc)
        if threads is not None:
            set_inference_threads(torch_threads, native=0)
    return ExportResult(output=output, workers=workers, threads=threads, **result)


def partial_path(output: Path) -> Path:
    """The temporary file beside ``output`` that this process writes before renaming it."""
    return output.with_name(f".{output.stem}.fmsmi-partial-{os.getpid()}{output.suffix}")


def plan_threads(config: ExportConfig, interpolator) -> tuple[int, int | None]:
    """(inference workers, intra-op threads per worker or None to leave as is)."""
    device = getattr(interpolator, "device", torch.device("cpu"))
    if torch.device(device).type != "cpu":
        return config.workers or 1, config.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = config.workers or cores
    threads = config.threads or (1 if workers > 1 else cores)
    return workers, threads


def set_inference_threads(count: int, native: int | None = None) -> None:
    """PyTorch's intra-op threads and the native op's (``native``, default the same; 0 = all)."""
    from fmsmi.engine.op import native as native_op

    torch.set_num_threads(count)
    native_op.set_threads(count if native is None else native)


def check_size(info: VideoInfo) -> None:
    """An InputError when the frames are larger than MAX_PIXELS (probe checks it too)."""
    _check_size(info.path, info.width, info.height)


class _Pipeline:
    def __init__(self, config: ExportConfig, info: VideoInfo, interpolator, temporary: Path, workers: int):
        self.config, self.info, self.interpolator, self.temporary = config, info, interpolator, temporary
        self.factor = config.factor
        self.workers = workers
        self.deep = info.bit_depth > 8
        self.stop = threading.Event()
        self.stats = _Stats()
        self.pairs: queue.Queue = queue.Queue(maxsize=config.queue_frames)
        self.results: queue.Queue = queue.Queue(maxsize=2 * workers)
        self.written: queue.Queue = queue.Queue()

    # -- main thread ------------------------------------------------------------------------

    def run(self, progress: bool, on_frame) -> dict:
        from tqdm import tqdm

        stages = [("decode", self._decode)] + [(f"infer{k}", self._infer) for k in range(self.workers)] \
            + [("encode", self._encode)]
        threads = [threading.Thread(target=self._guard, args=(work,), name=f"fmsmi-{name}", daemon=True)
                   for name, work in stages]
        total = self.info.expected_frames * self.factor or None
        bar = tqdm(total=total, unit="frame", desc=self.info.path.name, disable=None if progress else True,
                   dynamic_ncols=True, smoothing=0.1)
        started = time.perf_counter()
        try:
            for thread in threads:
                thread.start()
            while True:
                try:
                    item = self.written.get(timeout=_POLL)
                except queue.Empty:
                    if not any(thread.is_alive() for thread in threads) and self.written.empty():
                        raise RuntimeError("export workers ended without a result")  # a bug, not an input problem
                    continue
                if isinstance(item, _Failure):
                    raise item.error
                if item is _End:
                    break
                bar.update(item - bar.n)
                if on_frame is not None:
                    on_frame(item)
        except BaseException:
            self.stop.set()
            raise
        finally:
            for thread in threads:
                while thread.is_alive():
                    thread.join(_POLL)
            bar.close()
        seconds = time.perf_counter() - started
        return dict(self.stats.counts, seconds=seconds, stage_seconds=dict(self.stats.seconds))

    # -- plumbing ---------------------------------------------------------------------------

    def _guard(self, work) -> None:
        """Run a stage; its exception goes to the main thread's queue and stops the others."""
        try:
            work()
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self.written.put(_Failure(exc))
            self.stop.set()

    def _put(self, out: queue.Queue, item) -> None:
        while not self.stop.is_set():
            try:
                out.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _get(self, source: queue.Queue):
        while not self.stop.is_set():
            try:
                return source.get(timeout=_POLL)
            except queue.Empty:
                continue
        raise _Stopped

    # -- stages -----------------------------------------------------------------------------

    def _decode(self) -> None:
        """Frames -> pairs of consecutive frames (each frame travels as frame0 once, frame1 once)."""
        detector = SceneCutDetector(self.config.scene_threshold)
        previous: _Source | None = None
        cut = False
        sequence = 0
        step = self.info.nominal_step * self.factor
        with VideoDecoder(self.info.path, deep=self.deep, info=self.info) as decoder:
            started = time.perf_counter()
            for frame, pts in decoder.decoded():
                started = self.stats.add("decode", started)
                image = decoder.to_rgb(frame)
                current = _Source(pts * self.factor, image, _to_tensor(image), frame)
                cut = detector.is_cut(image)
                self.stats.add("convert", started)
                if previous is not None:
                    step = current.pts - previous.pts
                    self._put(self.pairs, _Pair(sequence, previous, current, cut, step))
                    sequence += 1
                previous = current
                self.stats.count("input_frames")
                started = time.perf_counter()
            self.stats.count("damaged_packets", decoder.damaged_packets)
        self.stats.count("scene_cuts", detector.cuts)
        if previous is not None:
            self._put(self.pairs, _Pair(sequence, previous, None, False, step))
        for _ in range(self.workers):
            self._put(self.pairs, _End)

    def _infer(self) -> None:
        while True:
            pair = self._get(self.pairs)
            if pair is _End:
                return
            frame0 = pair.frame0
            duration = pair.step // self.factor
            frames = [_Out(frame0.pts, frame0.image, None, duration, frame0.frame)]
            times = [frame0.pts + k * pair.step // self.factor for k in range(1, self.factor)]
            if pair.frame1 is None or pair.cut:
                # the last frame fills its own interval; at a cut the earlier shot's frame holds
                frames += [_Out(pts, frame0.image, None, duration, frame0.frame) for pts in times]
            else:
                tensors = self._recurse(frame0.tensor, pair.frame1.tensor, self.factor)
                frames += [_Out(pts, None, tensor, duration) for pts, tensor in zip(times, tensors)]
            self._put(self.results, _Result(pair.sequence, frames, pair.frame1 is None))

    def _recurse(self, tensor0: torch.Tensor, tensor1: torch.Tensor, factor: int) -> list[torch.Tensor]:
        """The factor-1 frames between two frames, in time order (x4: middle, then each half's)."""
        started = time.perf_counter()
        middle = self.interpolator.interpolate_tensor(tensor0, tensor1).cpu()
        self.stats.add("inference", started)
        self.stats.count("interpolated_frames")
        if factor == 2:
            return [middle]
        return (self._recurse(tensor0, middle, factor // 2) + [middle]
                + self._recurse(middle, tensor1, factor // 2))

    def _encode(self) -> None:
        rate = self.info.rate * self.factor
        time_base = self.info.time_base / self.factor
        waiting: dict[int, _Result] = {}   # results that arrived before their turn
        sequence = 0
        written = 0
        with VideoEncoder(self.temporary, self.info, rate=rate, time_base=time_base,
                          settings=self.config.encode, label=self.config.output) as encoder:
            to_frame = _frame_writer(encoder, self.deep)
            done = False
            while not done:
                result = self._get(self.results)
                waiting[result.sequence] = result
                while sequence in waiting and not done:
                    result = waiting.pop(sequence)
                    sequence += 1
                    for out in result.frames:
                        started = time.perf_counter()
                        if out.frame is not None and encoder.passes_through(out.frame):
                            frame = encoder.retime(out.frame, out.pts, out.duration)
                        elif out.image is not None:
                            frame = encoder.encode_frame(out.image, out.pts, out.duration)
                        else:
                            frame = to_frame(out.tensor, out.pts, out.duration)
                        started = self.stats.add("convert", started)
                        encoder.write_frame(frame)
                        self.stats.add("encode", started)
                        written += 1
                        self.stats.count("output_frames")
                        self.written.put(written)
                    done = result.last
            started = time.perf_counter()
            encoder.finish()
            self.stats.add("encode", started)
        self.written.put(_End)


# The conversions run in the decode and encode threads with NumPy (one thread, GIL released):
# PyTorch ops there would share its intra-op pool with the inference thread, and at 720p on
# two busy cores they took 10x longer (bench/cpu_engine.py).

def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 RGB uint8/uint16 -> (1,3,H,W) float32 in [0,1]."""
    scale = np.float32(1.0 / (65535.0 if image.dtype == np.uint16 else 255.0))
    planar = np.empty((1, 3) + image.shape[:2], dtype=np.float32)
    np.multiply(image.transpose(2, 0, 1), scale, out=planar[0])
    return torch.from_numpy(planar)


def _frame_writer(encoder: VideoEncoder, deep: bool) -> Callable[[torch.Tensor, int, int], Any]:
    """How a synthesized frame (1,3,H,W) becomes an encoder frame: straight into the 4:2:0
    planes of an 8-bit output with the native writer (one pass, pixels.yuv420p_u8), else
    through RGB bytes and the encoder's swscale conversion."""
    def through_rgb(tensor: torch.Tensor, pts: int, duration: int):
        return encoder.encode_frame(_to_image(tensor, deep), pts, duration)

    weights = encoder.yuv420p_weights()
    if deep or weights is None or pixels.yuv_unavailable_reason() is not None:
        return through_rgb

    def write_planes(tensor: torch.Tensor, pts: int, duration: int):
        if tensor.device.type != "cpu" or tensor.dtype != torch.float32:
            return through_rgb(tensor, pts, duration)
        frame, planes = encoder.blank_frame()
        pixels.yuv420p_u8(tensor[0], *planes, *weights)
        return encoder.stamp(frame, pts, duration)

    return write_planes


def _to_image(tensor: torch.Tensor, deep: bool) -> np.ndarray:
    """(1,3,H,W) float in [0,1] -> HxWx3 RGB uint8 (uint16 when deep), rounded and clamped.
    8-bit CPU fp32 frames take the native one-pass packing (not a PyTorch op: no intra-op
    pool), the same bytes as the NumPy formula below."""
    if not deep and tensor.device.type == "cpu" and tensor.dtype == torch.float32 \
            and pixels.unavailable_reason() is None:
        return pixels.packed_u8(tensor[0]).numpy()
    scale = np.float32(65535.0 if deep else 255.0)
    image = tensor[0].detach().to("cpu", torch.float32).numpy().transpose(1, 2, 0) * scale
    image += np.float32(0.5)
    np.clip(image, 0, scale, out=image)
    return image.astype(np.uint16 if deep else np.uint8)
