"""The live pipeline: decode thread -> frame channel -> interpolation thread -> present channel.

    decode thread                    interpolation thread                 main thread
    SeekableSource.frames() ──────>  pairs (frame0, frame1) ───────────>  display loop
    pts -> deadline (once),   frames  original at its deadline,  present  (player.py)
    RGBA copy, scene cut      (6)     middle at the midpoint     (8)

- Every frame gets its deadline once, in the decode thread (``Timeline.deadline``).
- Each source frame goes out as it arrives; when its successor arrives, the middle frame of
  the pair goes out first (deadline = midpoint), then the successor: the present channel
  holds the 2x stream in order.
- Scene cuts are not blended: the middle slot repeats the earlier frame.
- A middle frame that cannot be ready before its slot is over is skipped (:class:`SkipPolicy`):
  a SKIPPED item takes its slot and the display counts it as dropped when the slot comes.
  A slow machine falls back towards the source rate instead of falling ever further behind.
- Seeking bumps the epoch: both channels are flushed, in-flight work of the old epoch is
  refused at the next put, and the decode thread restarts from the keyframe before the
  target, landing on the exact frame (:mod:`.source`).
- A worker's exception travels down the channels as a :class:`WorkerFailure`; the display
  loop re-raises it on the main thread.

The interpolation itself is a :class:`MiddleFrame` stage: :class:`CpuStage` runs the
``Interpolator`` on host arrays; ``gpu_path.GpuStage`` keeps frames on the GPU.
"""

from __future__ import annotations

import functools
import logging
import os
import statistics
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from fmsmi.player.media.scene import DEFAULT_THRESHOLD, SceneCutDetector

from .channel import Channel, EndOfStream, WorkerFailure
from .clock import MediaClock
from .scheduler import Kind, PresentItem, Timeline
from .source import SeekableSource
from .stats import PlaybackStats

log = logging.getLogger(__name__)


WORKER_NICENESS = 5     # decode and interpolation threads yield the CPU to the display thread


@dataclass(frozen=True)
class PipelineConfig:
    frame_queue: int = 6
    present_queue: int = 8
    scene_threshold: float = DEFAULT_THRESHOLD    # 1 disables scene-cut detection
    skip_late: bool = True                        # skip middle frames that cannot be on time
    workers: int = 1                              # middle frames synthesised at once (CPU: one per core)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers={self.workers}: expected >= 1")


@dataclass(frozen=True, slots=True)
class SourceFrame:
    index: int
    pts: int
    deadline: float
    rgb: np.ndarray        # HxWx3 uint8, the interpolator's input
    rgba: np.ndarray       # HxWx4 uint8, the display's upload
    scene_cut: bool        # a new shot starts here: do not blend with the previous frame
    epoch: int


class MiddleFrame(Protocol):
    def __call__(self, frame0: SourceFrame, frame1: SourceFrame) -> np.ndarray: ...


def lower_priority(niceness: int) -> None:
    """Raise the calling thread's nice value (Linux: per thread; no privileges needed), so
    that the display thread wins the CPU when a frame is due. Best effort elsewhere."""
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + niceness)
    except OSError as exc:
        log.debug("cannot lower the priority of %s: %s", threading.current_thread().name, exc)


class CpuStage:
    """Middle frames on the host: ``interpolate`` (``Interpolator.interpolate``, with
    ``alpha=True`` an RGBA frame in the same pass) and, for an RGB result, an RGBA copy."""

    def __init__(self, interpolate: Callable[[np.ndarray, np.ndarray], np.ndarray], stats: PlaybackStats):
        self.interpolate = interpolate
        self.stats = stats

    def warm_up(self, height: int, width: int, calls: int = 2) -> float:
        """A few untimed calls at the video's size before the first real pair; returns the
        last one's duration (seconds)."""
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        for _ in range(calls):
            started = time.perf_counter()
            self.interpolate(frame, frame)
        return time.perf_counter() - started

    def __call__(self, frame0: SourceFrame, frame1: SourceFrame) -> np.ndarray:
        started, started_cpu = time.perf_counter(), time.thread_time()
        middle = self.interpolate(frame0.rgb, frame1.rgb)
        converted = time.perf_counter()
        self.stats.add_time("interpolate_cpu", time.thread_time() - started_cpu)
        rgba = middle if middle.shape[2] == 4 else SeekableSource.rgb_to_rgba(middle)
        self.stats.add_time("interpolate", converted - started)
        self.stats.add_time("convert", time.perf_counter() - converted)
        return rgba


class Pipeline:
    """Runs the decode and interpolation threads; the display consumes ``present``."""

    def __init__(self, source: SeekableSource, timeline: Timeline, clock: MediaClock, stats: PlaybackStats,
                 middle: MiddleFrame | None, config: PipelineConfig = PipelineConfig(), interpolating: bool = True):
        self.source = source
        self.timeline = timeline
        self.clock = clock
        self.stats = stats
        self.middle = middle
        self.config = config
        self.interpolating = interpolating and middle is not None   # read by the worker each pair
        self.frames = Channel(config.frame_queue, "frames")
        self.present = Channel(config.present_queue, "present")
        self._control = threading.Condition()
        self._epoch = 0
        self._request: tuple[int, int | None] | None = None
        self._stopping = False
        self._warmed: MiddleFrame | None = None
        self._probes: list[Future] = []     # shadow probes of a hopeless skip policy
        self.policy = SkipPolicy(timeline.frame_interval, probe_after=max(1, round(timeline.rate)))
        self._threads = [threading.Thread(target=self._decode_main, name="fmsmi-decode", daemon=True),
                         threading.Thread(target=self._interpolate_main, name="fmsmi-interpolate", daemon=True)]

    @property
    def epoch(self) -> int:
        return self._epoch

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def seek(self, pts: int | None) -> int:
        """Restart from the frame on screen at ``pts`` (None: the beginning); returns the new epoch."""
        with self._control:
            self._epoch += 1
            self._request = (self._epoch, pts)
            self.frames.flush(self._epoch)
            self.present.flush(self._epoch)
            self._control.notify_all()
        self.stats.count("seeks")
        return self._epoch

    def stop(self, timeout: float = 2.0) -> None:
        with self._control:
            self._stopping = True
            self._control.notify_all()
        self.frames.close()
        self.present.close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        if not self._threads[0].is_alive():
            self.source.close()

    # -- decode thread ---------------------------------------------------------------
    def _decode_main(self) -> None:
        lower_priority(WORKER_NICENESS)
        try:
            epoch, start_pts = 0, None
            while True:
                finished = self._decode_from(epoch, start_pts)
                if finished:
                    self.frames.put(EndOfStream(epoch), epoch)
                request = self._next_request(wait=finished)
                if request is None:
                    return
                epoch, start_pts = request
        except Exception as exc:  # travels to the main thread, re-raised there
            log.debug("decode thread failed", exc_info=True)
            self.frames.fail(WorkerFailure("decode", exc))

    def _next_request(self, wait: bool) -> tuple[int, int | None] | None:
        with self._control:
            while wait and self._request is None and not self._stopping:
                self._control.wait()
            if self._stopping:
                return None
            request, self._request = self._request, None
            return request

    def _interrupted(self, epoch: int) -> bool:
        return self._stopping or self._epoch != epoch

    def _decode_from(self, epoch: int, start_pts: int | None) -> bool:
        """Decode ``epoch``'s frames into the channel; True at the end of the stream, False
        when a seek or stop interrupts."""
        detector = SceneCutDetector(self.config.scene_threshold)
        decoded = self.source.decoded(start_pts)
        try:
            return self._decode_frames(decoded, detector, epoch)
        finally:
            decoded.close()

    def _decode_frames(self, decoded, detector: SceneCutDetector, epoch: int) -> bool:
        index = 0
        while not self._interrupted(epoch):
            started = time.perf_counter()
            item = next(decoded, None)
            if item is None:
                return True
            frame, pts = item
            decoded_at = time.perf_counter()
            rgb = self.source.to_rgb(frame)
            rgba = self.source.to_rgba(frame)
            converted = time.perf_counter()
            cut = detector.is_cut(rgb) if index > 0 else False
            self.stats.add_time("decode", decoded_at - started)
            self.stats.add_time("convert", converted - decoded_at)
            self.stats.add_time("scene", time.perf_counter() - converted)
            source_frame = SourceFrame(index, pts, self.timeline.deadline(pts), rgb, rgba, cut, epoch)
            if not self.frames.put(source_frame, epoch):
                return False
            index += 1
        return False

    # -- interpolation thread --------------------------------------------------------
    def _interpolate_main(self) -> None:
        lower_priority(WORKER_NICENESS)
        workers = self.config.workers
        pool = ThreadPoolExecutor(workers, thread_name_prefix="fmsmi-infer", initializer=lower_priority,
                                  initargs=(WORKER_NICENESS,)) if workers > 1 else None
        pending: deque[_Pending] = deque()      # in presentation order: [middle], original
        previous: SourceFrame | None = None
        try:
            self._warm_up(pool)             # before the first frame goes out: preroll waits for it
            while True:
                message = self.frames.get(timeout=_POLL if pending else None)
                if message is None:
                    if self._stopping or self.frames.closed:
                        return
                    self._emit_ready(pending, block=False)      # a poll: nothing new decoded yet
                    continue
                if isinstance(message, WorkerFailure):
                    self.present.fail(message)
                    return
                while pending and pending[0].original.epoch != message.epoch:
                    pending.popleft()       # a seek flushed the channels: the old epoch's work is void
                if isinstance(message, EndOfStream):
                    self._emit_ready(pending, block=True)
                    self.present.put(message, message.epoch)
                    previous = None
                    continue
                middle = None
                if previous is not None and previous.epoch == message.epoch:
                    while sum(isinstance(item.middle, Future) for item in pending) >= workers:
                        self._emit_ready(pending, block=True, count=1)
                    middle = self._start_middle(previous, message, pool)
                original = PresentItem(message.deadline, Kind.ORIGINAL, message.rgba, message.rgba, message.index,
                                       message.epoch)
                pending.append(_Pending(middle, original))
                self._emit_ready(pending, block=False)
                previous = message
        except Exception as exc:  # travels to the main thread, re-raised there
            log.debug("interpolation thread failed", exc_info=True)
            self.present.fail(WorkerFailure("interpolate", exc))
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def _emit_ready(self, pending: deque, *, block: bool, count: int | None = None) -> None:
        """Put the head of ``pending`` into the present channel in order: all of it (``block``:
        waiting for middle frames still being synthesised; ``count``: that many entries), or
        (not ``block``) as far as the middle frames are done."""
        emitted = 0
        while pending and (count is None or emitted < count):
            head = pending[0]
            if isinstance(head.middle, Future):
                if not block and not head.middle.done():
                    return
                head.middle = self._finish_middle(head.middle.result())
            pending.popleft()
            if head.middle is not None:
                self.present.put(head.middle, head.original.epoch)
            self.present.put(head.original, head.original.epoch)
            emitted += 1

    def _warm_up(self, pool: ThreadPoolExecutor | None = None) -> None:
        """Untimed first calls (allocations, kernel selection) before the first middle frame
        of a stage, in every worker at once; the last one seeds the skip policy's estimate."""
        if not self.interpolating or self.middle is self._warmed:
            return
        self._warmed = self.middle
        warm_up = getattr(self.middle, "warm_up", None)
        if warm_up is None:
            return
        height, width = self.source.info.height, self.source.info.width
        if pool is None:
            timings = [warm_up(height, width)]
        else:
            timings = list(pool.map(lambda _: warm_up(height, width), range(self.config.workers)))
        for seconds in timings:
            if seconds is not None:
                self.policy.record(seconds)

    def set_interpolating(self, on: bool, middle: MiddleFrame | None = None) -> None:
        """Interpolation on/off (the ``i`` key); switching on measures the stage afresh."""
        if middle is not None:
            self.middle = middle
        if on and not self.interpolating:
            self.policy.reset()
        self.interpolating = on and self.middle is not None

    def _start_middle(self, frame0: SourceFrame, frame1: SourceFrame, pool: ThreadPoolExecutor | None):
        """The middle slot between two frames: None (interpolation off), a ready PresentItem
        (a scene cut's repeat, a skip; or the synthesised frame without a pool), or a Future
        of ``_MiddleResult`` from a worker."""
        if not self.interpolating:
            return None
        self._warm_up()                     # a stage switched on during playback (i)
        deadline = Timeline.middle(frame0.deadline, frame1.deadline)
        if frame1.scene_cut:
            self.stats.count("scene_cuts")
            return PresentItem(deadline, Kind.REPEAT, frame0.rgba, frame0.rgba, frame0.index, frame0.epoch)
        now = self.clock.time() if self.clock.running else None
        job = functools.partial(_synthesise, self.middle, frame0, frame1, deadline)
        self._harvest_probes()
        if self.config.skip_late and self.policy.skip(deadline, now):
            if self.policy.shadow_probe_due():
                self._probes.append(pool.submit(job) if pool is not None else _in_thread(job))
            return PresentItem(deadline, Kind.SKIPPED, frame0.rgba, frame0.rgba, frame0.index, frame0.epoch)
        return self._finish_middle(job()) if pool is None else pool.submit(job)

    def _harvest_probes(self) -> None:
        """Feed the skip policy the times of finished shadow probes (their images are dropped)."""
        for probe in [probe for probe in self._probes if probe.done()]:
            self._probes.remove(probe)
            if probe.exception() is None:
                self.policy.record_shadow_probe(probe.result().seconds)

    def _finish_middle(self, result: _MiddleResult) -> PresentItem:
        self.policy.record(result.seconds)
        frame0 = result.frame0
        return PresentItem(result.deadline, Kind.INTERPOLATED, result.image, frame0.rgba, frame0.index, frame0.epoch,
                           infer_ms=result.seconds * 1e3)


_POLL = 0.005       # seconds between checks for finished middle frames while none is decoded


@dataclass(slots=True)
class _Pending:
    middle: PresentItem | Future | None
    original: PresentItem


@dataclass(frozen=True, slots=True)
class _MiddleResult:
    image: np.ndarray
    seconds: float
    frame0: SourceFrame
    deadline: float


def _in_thread(job: Callable[[], _MiddleResult]) -> Future:
    """``job`` in a daemon thread of its own (a shadow probe without a worker pool)."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(job())
        except Exception as exc:  # the probe only measures: a failure leaves the policy as it was
            future.set_exception(exc)
    threading.Thread(target=run, name="fmsmi-probe", daemon=True).start()
    return future


def _synthesise(middle: MiddleFrame, frame0: SourceFrame, frame1: SourceFrame, deadline: float) -> _MiddleResult:
    started = time.perf_counter()
    image = middle(frame0, frame1)
    return _MiddleResult(image, time.perf_counter() - started, frame0, deadline)


class SkipPolicy:
    """Whether to synthesize the next middle frame, from the last few inference times.

    - *hopeless* (the estimate exceeds ``hopeless`` source frame intervals): skip them all.
      Each one would hold the original frames behind it for longer than the present
      channel's slack, so they would be dropped too. Every ``probe_after`` skips (doubling
      up to 8x while it stays hopeless) a *shadow probe* is due: the pipeline synthesizes
      one middle frame off the presentation path, nothing waits for it, and its time
      (``record_shadow_probe``) replaces the estimate when it is no longer hopeless: a load
      spike at start-up no longer turns interpolation off for good. Turning interpolation
      off and on again (``reset``) also measures again.
    - clock not running (preroll, pause, a seek): synthesize unless hopeless.
    - running: skip when ``now + estimate`` is past the deadline plus one output interval
      (it would miss its slot); after ``probe_after`` skips in a row one is tried anyway so
      the estimate follows a machine that got faster, the interval doubling (up to 8x)
      while probes stay too slow.
    """

    def __init__(self, frame_interval: float, hopeless: float = 4.0, probe_after: int = 30):
        self.frame_interval = frame_interval
        self.hopeless_after = hopeless * frame_interval
        self.probe_after_base = self.probe_after = probe_after
        self.recent: deque[float] = deque(maxlen=5)
        self.skipped_in_a_row = 0
        self._probing = False

    def reset(self) -> None:
        self.recent.clear()
        self.skipped_in_a_row = 0
        self.probe_after = self.probe_after_base

    @property
    def estimate(self) -> float:
        return statistics.median(self.recent) if self.recent else 0.0

    @property
    def hopeless(self) -> bool:
        return self.estimate > self.hopeless_after

    def skip(self, deadline: float, now: float | None) -> bool:
        if self.hopeless:
            skip = True
        elif now is None:
            skip = False
        elif self.skipped_in_a_row >= self.probe_after:
            skip = False
        else:
            skip = now + self.estimate > deadline + self.frame_interval / 2
        self._probing = not skip and self.skipped_in_a_row > 0
        self.skipped_in_a_row = self.skipped_in_a_row + 1 if skip else 0
        return skip

    def shadow_probe_due(self) -> bool:
        """Hopeless and ``probe_after`` skips since the last probe: time one off the path now."""
        if not self.hopeless or self.skipped_in_a_row < self.probe_after:
            return False
        self.skipped_in_a_row = 0
        return True

    def record_shadow_probe(self, seconds: float) -> None:
        fast = seconds <= self.hopeless_after
        if fast:
            self.recent.clear()                 # the machine got faster (or the spike passed)
        self.recent.append(seconds)
        self._after_probe(fast)

    def record(self, seconds: float) -> None:
        self.recent.append(seconds)
        if self._probing:
            self._after_probe(seconds <= self.frame_interval)

    def _after_probe(self, fast: bool) -> None:
        """A fast probe restores the probe interval; a slow one doubles it, up to 8x."""
        self.probe_after = self.probe_after_base if fast else min(8 * self.probe_after_base, 2 * self.probe_after)
