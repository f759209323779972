"""The live player: wires source, pipeline, window, audio and controls, and runs the display loop.

The display loop runs on the main thread (GLFW requires it):

1. poll window events (keys run :class:`~.controls.Controls` actions);
2. look at the head of the present channel: a worker failure is re-raised here;
3. *preroll* (start, after a seek): wait until the present channel is full (or holds the
   end of the stream, or a second has passed since its first frame), then start the clock
   at the head's deadline;
4. ask the :class:`~.scheduler.Pacer`: wait (sleep up to 4 ms, then look again), drop (a
   whole output interval late: count it) or show (upload, draw, swap, time it).

``--duration`` counts media seconds of playback (pauses and seek waits excluded), so a
4 s run of a 30 fps clip has exactly 240 output slots at 2x. ``--screenshot-at SEC``
reads back the first frame presented at or after SEC seconds of the video.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fmsmi.engine.defaults import DEFAULT_MODEL
from fmsmi.errors import ConfigError

from .audio import AudioOutput, audio_unavailable_reason
from .channel import EndOfStream, WorkerFailure
from .clock import MediaClock
from .controls import Controls
from .display import DisplayError, Window, display_unavailable_reason
from .pipeline import CpuStage, MiddleFrame, Pipeline, PipelineConfig
from .scheduler import Decision, Kind, Pacer, PresentItem, Timeline
from .screenshot import check_writable, write_png
from .source import SeekableSource
from .stats import PlaybackStats

log = logging.getLogger(__name__)

PREROLL_WAIT = 1.0          # after the first frame arrives, seconds to wait for a full present channel
STARVED_GRACE = 1.0         # after --duration ends, wait this long for late frames to be counted
TITLE_PERIOD = 0.5          # seconds between title-bar updates


@dataclass(frozen=True)
class PlayOptions:
    input: Path
    model: str = DEFAULT_MODEL
    weights: Path | None = None
    backend: str = "auto"
    threads: int | None = None        # intra-op threads per worker (None: 1 with several workers)
    workers: int | None = None        # middle frames synthesised at once (None: one per core on the CPU, else 1)
    fullscreen: bool = False
    interpolation: bool = True
    compare: bool = False
    audio: bool = True
    duration: float | None = None
    stats_path: Path | None = None
    screenshot_at: float | None = None
    screenshot_path: Path | None = None
    pipeline: PipelineConfig = PipelineConfig()

    def __post_init__(self) -> None:
        for name in ("threads", "workers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name}={value}: expected an integer >= 1")
        if self.duration is not None and self.duration <= 0:
            raise ConfigError(f"--duration={self.duration}: expected a positive number of seconds")
        if self.screenshot_at is not None:
            if self.screenshot_at < 0:
                raise ConfigError(f"--screenshot-at SEC={self.screenshot_at}: expected >= 0")
            if self.screenshot_path is None:
                raise ConfigError("--screenshot-at: expected SEC and FILE.png")
            check_writable(self.screenshot_path)
        if self.stats_path is not None and not Path(self.stats_path).parent.is_dir():
            raise ConfigError(f"--stats {str(self.stats_path)!r}: folder {str(Path(self.stats_path).parent)!r} "
                              f"does not exist")


def cpu_workers(workers: int | None, threads: int | None) -> tuple[int, int]:
    """(middle frames at once, intra-op threads each) for the CPU engine: by default one
    single-threaded worker per core. PyTorch's threads wait for each other at every layer, and
    the display and decode threads take a core away at random moments: two workers of one
    thread each kept both cores busy where one of two threads did not (640x360 lite: 55 ms per
    frame on one thread; 48-110 ms on two, depending on what else ran)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = workers or cores
    return workers, threads or (1 if workers > 1 else cores)


def set_inference_threads(count: int) -> None:
    """PyTorch's intra-op threads and the native op's."""
    import torch

    from fmsmi.engine.op import native as native_op
    torch.set_num_threads(count)
    native_op.set_threads(count)


class Player:
    """One playback session; ``run()`` plays until the end, ``--duration``, or quit.

    Tests and embedders may inject ``interpolate(frame0, frame1) -> middle`` (HxWx3 uint8
    arrays; default: the engine's ``Interpolator``), ``clock``, ``audio_factory``,
    ``on_present(item, window)`` (called after a frame is drawn, before the swap) and
    ``on_tick(player)`` (called on every turn of the display loop, on the main thread).
    """

    def __init__(self, options: PlayOptions, *, interpolate: Callable | None = None, clock: MediaClock | None = None,
                 audio_factory: Callable[..., AudioOutput] | None = None,
                 on_present: Callable[[PresentItem, Window], None] | None = None,
                 on_tick: Callable[[Player], None] | None = None,
                 notice: Callable[[str], None] = log.warning):
        self.options = options
        self.notice = notice
        self.on_present = on_present
        self.on_tick = on_tick
        self.stats = PlaybackStats()
        self.clock = clock or MediaClock()
        self.source = SeekableSource(options.input)      # bad input fails here, before any window
        self.info = self.source.info
        self.timeline = Timeline(self.info.time_base, self.info.rate)
        self.origin = self.timeline.deadline(self.info.start_pts)
        self._middle: MiddleFrame | None = None
        self._workers = options.workers or options.pipeline.workers
        self.backend = "not loaded (interpolation off)"
        try:
            reason = display_unavailable_reason()
            if reason:
                raise DisplayError(reason)
            if interpolate is not None:
                self._middle, self.backend = CpuStage(interpolate, self.stats), "injected"
            elif options.interpolation:
                self._middle = self._build_middle()
        except Exception:
            self.source.close()
            raise
        pipeline = options.pipeline
        if self._workers != pipeline.workers:
            pipeline = dataclasses.replace(pipeline, workers=self._workers)
        self.pipeline = Pipeline(self.source, self.timeline, self.clock, self.stats, self._middle,
                                 pipeline, interpolating=options.interpolation)
        self.audio: AudioOutput | None = None
        self.audio_status = "off (--no-audio)" if not options.audio else "none in the file"
        self._audio_factory = audio_factory or AudioOutput
        self.window: Window | None = None
        self.controls = Controls(self)
        # playback state
        self.paused = False
        self.compare = options.compare
        self.quit_requested = False
        self._shown_textures = ("source0", "source0")  # (source, output) textures on screen
        self._prepared: PresentItem | None = None      # the item whose textures are uploaded
        self._last_shown: PresentItem | None = None
        self._show_still = False                       # paused seek: show the first new frame
        self._preroll_since: float | None = None       # when the first frame of a preroll arrived
        self._played = 0.0                             # media seconds played in earlier segments
        self._segment_start: float | None = None       # media time the current segment started at
        self._screenshot_done = options.screenshot_at is None
        self._present_times: deque[float] = deque(maxlen=120)
        self._title_at = 0.0

    # -- construction helpers ----------------------------------------------------------
    def _build_middle(self) -> MiddleFrame:
        from fmsmi.engine import backends
        from fmsmi.engine.interpolator import Interpolator
        options = self.options
        backend = backends.resolve(options.backend)
        if backend in ("trt", "torch"):
            from . import gpu_path
            reason = gpu_path.unavailable_reason()
            if reason is None:
                self.backend = f"{backend} (GPU path)"
                return gpu_path.GpuStage(Interpolator(options.model, options.weights, backend), self.stats)
            log.info("GPU path skipped: %s", reason)
        interpolator = Interpolator(options.model, options.weights, backend)
        self.backend = interpolator.backend
        self._workers, threads = cpu_workers(options.workers, options.threads)
        set_inference_threads(threads)
        return CpuStage(functools.partial(interpolator.interpolate, alpha=True), self.stats)

    def _open_audio(self) -> None:
        if not self.options.audio:
            return
        if not self.info.audio_streams:
            return
        reason = audio_unavailable_reason() if self._audio_factory is AudioOutput else None
        if reason:
            self.audio_status = f"video only: {reason}"
            self.notice(f"{self.info.path.name}: {reason}: playing video only")
            return
        try:
            self.audio = self._audio_factory(self.info.path, self.clock)
        except Exception as exc:   # a device that refuses the stream's format, a broken stream
            self.audio_status = f"video only: {exc}"
            self.notice(f"{self.info.path.name}: audio output failed ({exc}): playing video only")
            return
        self.audio_status = f"master clock ({self.audio.rate} Hz, {self.audio.channels} ch)"

    # -- session -----------------------------------------------------------------------
    def run(self) -> dict:
        """Play; returns the stats document (also written to ``--stats``)."""
        width, height = self.info.width, self.info.height
        sar = float(self.info.sample_aspect_ratio) if self.info.sample_aspect_ratio else 1.0
        window_width = round(width * sar) * (2 if self.compare else 1)
        switch_interval = sys.getswitchinterval()
        # The display thread must get the GIL back within a fraction of a frame while the
        # interpolation thread runs Python between its tensor ops (default: 5 ms).
        sys.setswitchinterval(0.0005)
        # The objects alive before playback (a host program's, the loaded modules) are moved
        # out of the collector's sight while playing: a full collection then scans only what
        # playback creates, instead of pausing every thread for the whole heap mid-frame.
        gc.freeze()
        try:
            self.window = Window(window_width, height, self._title(), fullscreen=self.options.fullscreen,
                                 pixel_aspect=sar)
            self.window.set_key_callback(self.controls.on_key)
            self._open_audio()
            self.pipeline.start()
            if self.audio is not None:
                self.audio.start(self.origin)
            self._loop()
        finally:
            self._played, self._segment_start = self._played_now(), None
            self.stats.stopped()
            sys.setswitchinterval(switch_interval)
            gc.unfreeze()
            self.pipeline.stop()
            if self.audio is not None:
                self.audio.close()
            if self.window is not None:
                self.window.close()
        return self._finish()

    def _finish(self) -> dict:
        fps = float(self.info.rate)
        context = {
            "input": str(self.info.path), "width": self.info.width, "height": self.info.height,
            "source_fps": round(fps, 3), "target_fps": round(fps * (2 if self.options.interpolation else 1), 3),
            "interpolation": self.options.interpolation, "model": self.options.model, "backend": self.backend,
            "audio": self.audio_status, "renderer": self.window.renderer if self.window else None,
            "duration_requested": self.options.duration, "media_seconds_played": round(self._played_now(), 3),
            "inference_estimate_ms": round(self.pipeline.policy.estimate * 1e3, 2),
            "interpolation_too_slow": self.pipeline.policy.hopeless,
            # decoding went on past these (a packet decoded again after a seek counts again)
            "damaged_packets": self.source.damaged_packets, "input_read_error": self.source.damage.read_error,
        }
        if self.options.stats_path is not None:
            return self.stats.write(self.options.stats_path, **context)
        return self.stats.summary(**context)

    # -- the display loop ----------------------------------------------------------------
    def _loop(self) -> None:
        window, present = self.window, self.pipeline.present
        while not self.quit_requested and not window.should_close:
            window.poll()
            if self.on_tick is not None:
                self.on_tick(self)
            head = present.peek(timeout=0)
            if isinstance(head, WorkerFailure):
                raise head.error
            if self.audio is not None and not self.clock.audio_trusted:
                self.audio_status += "; stopped: the device's timing drifted from the system clock"
                self.notice(f"{self.info.path.name}: the audio device's timing is unreliable: "
                            f"audio off, video paced by the system clock")
                self.audio.close()
                self.audio = None
            self._update_title()
            if not self.clock.started:                       # preroll
                if isinstance(head, EndOfStream) and not self.paused:
                    return                                   # nothing (more) to play from here
                if not self._preroll(head):
                    self._idle(0.002)
                continue
            if self.paused:
                self._idle(0.01)
                continue
            now = self.clock.time()
            if self._duration_over(head, now) or self._stream_over(head, now):
                return
            if not isinstance(head, PresentItem):            # starved, or at the end
                self._idle(0.002, wait_for_frame=True)
                continue
            decision, seconds = self._pacer().decide(head.deadline, now)
            if decision is Decision.WAIT:
                if head.kind is not Kind.SKIPPED:
                    self._prepare(head)
                self._idle(min(seconds, 0.004))
            elif head.kind is Kind.SKIPPED:
                present.get(timeout=0)
                self.stats.count("skipped_interpolations")
            elif decision is Decision.DROP:
                present.get(timeout=0)
                self.stats.count("dropped_late")
            else:
                present.get(timeout=0)
                self._present(head)

    def _preroll(self, head) -> bool:
        """Start the clock once enough frames wait; True when something was done."""
        if not isinstance(head, PresentItem):
            return False
        if self._preroll_since is None:
            self._preroll_since = time.monotonic()
        if self.paused:                                      # seeking while paused: show the new frame
            if self._show_still:
                self.pipeline.present.get(timeout=0)
                self._present(head)
                self._show_still = False
                self.clock.hold(head.deadline)
                return True
            return False
        present = self.pipeline.present
        ready = (len(present) >= present.capacity or isinstance(present.tail(), EndOfStream)
                 or time.monotonic() - self._preroll_since > PREROLL_WAIT)
        if not ready:
            return False
        self._preroll_since = None
        self.clock.start(head.deadline)
        self._segment_start = head.deadline
        self.stats.playing()
        return True

    def _pacer(self) -> Pacer:
        # start drawing as early as drawing takes (up to 5 ms), so the swap lands on the deadline
        early = min(0.005, max(0.001, self.stats.recent_median_ms("draw", last=9) / 1e3))
        return Pacer(late_limit=self.timeline.output_interval(self.pipeline.interpolating), early=early)

    def _idle(self, seconds: float, wait_for_frame: bool = False) -> None:
        if self.window.dirty:
            self._redraw()
        if wait_for_frame:
            self.pipeline.present.peek(timeout=seconds)
        elif seconds > 0:
            time.sleep(seconds)

    def _played_now(self) -> float:
        if self._segment_start is None or not self.clock.started:
            return self._played
        return self._played + max(0.0, self.clock.time() - self._segment_start)

    def _duration_over(self, head, now: float) -> bool:
        if self.options.duration is None or self._segment_start is None:
            return False
        end = self._segment_start + (self.options.duration - self._played)
        if isinstance(head, PresentItem):
            # every slot before the end is shown or dropped; the first one after it never is
            return head.deadline >= end and now >= end - self._pacer().early
        return now >= end and (isinstance(head, EndOfStream) or now >= end + STARVED_GRACE)

    def _stream_over(self, head, now: float) -> bool:
        if not isinstance(head, EndOfStream):
            return False
        last = self._last_shown.deadline if self._last_shown is not None else now
        return now >= last + self.timeline.output_interval(self.pipeline.interpolating)

    # -- presenting ----------------------------------------------------------------------
    def _textures_for(self, item: PresentItem) -> tuple[str, str]:
        """(source texture, output texture) of ``item``: two of each, by the parity of the
        source index, so the next frame uploads while the current one stays on screen."""
        parity = item.source_index % 2
        source = f"source{parity}"
        return source, (f"middle{parity}" if item.kind is Kind.INTERPOLATED else source)

    def _prepare(self, item: PresentItem) -> None:
        """Upload ``item``'s textures (ahead of its deadline when there is time)."""
        if item is self._prepared:
            return
        started = time.perf_counter()
        source, output = self._textures_for(item)
        key = (item.epoch, item.source_index)
        uploaded = False
        if item.kind is Kind.INTERPOLATED:
            uploaded |= self.window.upload(output, item.image, key=key)
            if self.compare:
                uploaded |= self.window.upload(source, item.source, key=key)
        else:                                              # original, or a scene cut's repeat
            uploaded |= self.window.upload(source, item.source, key=key)
        if uploaded:
            self.stats.add_time("upload", time.perf_counter() - started)
        self._prepared = item

    def _present(self, item: PresentItem) -> None:
        window = self.window
        self._prepare(item)
        self._shown_textures = self._textures_for(item)
        started = time.perf_counter()
        window.draw(self._panes())
        drawn = time.perf_counter()
        if not self._screenshot_done and item.deadline >= self.origin + self.options.screenshot_at - 1e-6:
            self._screenshot_done = True
            write_png(self.options.screenshot_path, window.read_pixels())
            log.info("screenshot at %.3f s -> %s", item.deadline - self.origin, self.options.screenshot_path)
        if self.on_present is not None:
            self.on_present(item, window)
        swap_started = time.perf_counter()
        window.swap()
        swapped = time.perf_counter()
        self.stats.add_time("draw", (drawn - started) + (swapped - swap_started))
        if self.clock.started:
            self.stats.add_time("lateness", max(0.0, self.clock.time() - item.deadline))
        self.stats.count("frames_shown")
        self._last_shown = item
        self._present_times.append(time.monotonic())

    def _panes(self) -> list[str]:
        source, output = self._shown_textures
        return [source, output] if self.compare else [output]

    def _redraw(self) -> None:
        self.window.draw(self._panes())
        self.window.swap()

    # -- title bar -------------------------------------------------------------------------
    def _output_fps(self) -> float:
        times = self._present_times
        if len(times) < 2 or times[-1] - times[0] <= 0:
            return 0.0
        recent = [t for t in times if t >= times[-1] - 1.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    def _title(self) -> str:
        source_fps = float(self.info.rate)
        parts = [f"fmsmi · {self.info.path.name}",
                 f"{source_fps:.3g} fps → {self._output_fps():.1f} fps ({self._mode()})",
                 f"infer {self.stats.recent_mean_ms('interpolate'):.0f} ms",
                 f"dropped {self.stats.frames_dropped}"]
        if self.compare:
            parts.append("compare: original | interpolated")
        if self.paused:
            parts.append("paused")
        return " · ".join(parts)

    def _mode(self) -> str:
        if not self.pipeline.interpolating:
            return "1x"
        return "2x, too slow: skipping middle frames (measuring again every few seconds)" if self.pipeline.policy.hopeless else "2x"

    def _update_title(self) -> None:
        now = time.monotonic()
        if now - self._title_at >= TITLE_PERIOD:
            self._title_at = now
            self.window.set_title(self._title())

    # -- actions (controls) ----------------------------------------------------------------
    def position(self) -> float:
        """Seconds from the start of the video to what is on screen."""
        if self.clock.started:
            return self.clock.time() - self.origin
        if self._last_shown is not None:
            return self._last_shown.deadline - self.origin
        return self.clock.time() - self.origin

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self.clock.pause()
            self.stats.stopped()
        elif self.clock.started:
            self.clock.resume()
            self.stats.playing()
        self._title_at = 0.0

    def seek_relative(self, seconds: float) -> None:
        self.seek_to(self.position() + seconds)

    def seek_to(self, position: float) -> None:
        """Show the frame on screen at ``position`` seconds (clamped to the video)."""
        duration = self.info.duration
        last = max(0.0, duration - self.timeline.frame_interval) if duration else position
        position = min(max(0.0, position), last)
        target = self.origin + position
        if self.clock.started and self._segment_start is not None:
            self._played += max(0.0, self.clock.time() - self._segment_start)
        self._segment_start = None
        self.stats.stopped()
        self.pipeline.seek(self.timeline.pts_at(target))
        if self.audio is not None:
            self.audio.seek(target)
        self.clock.hold(target)
        self._preroll_since = None
        self._show_still = self.paused
        log.info("seek to %.3f s", position)

    def toggle_fullscreen(self) -> None:
        self.window.toggle_fullscreen()

    def toggle_interpolation(self) -> None:
        if not self.pipeline.interpolating and self._middle is None:
            self._middle = self._build_middle()           # --no-interp loads the model on first use
        self.pipeline.set_interpolating(not self.pipeline.interpolating, self._middle)
        self._title_at = 0.0

    def toggle_compare(self) -> None:
        self.compare = not self.compare
        shown = self._last_shown
        if self.compare and shown is not None:
            self.window.upload(self._textures_for(shown)[0], shown.source, key=(shown.epoch, shown.source_index))
        self.window.dirty = True
        self._title_at = 0.0

    def screenshot(self, path: str | Path | None = None) -> Path:
        if path is None:
            path = Path.cwd() / f"fmsmi-{self.info.path.stem}-{max(0.0, self.position()):.3f}.png"
        self.window.draw(self._panes())
        image = self.window.read_pixels()
        self.window.swap()
        written = write_png(path, image)
        self.notice(f"screenshot: {written}")
        return written

    def quit(self) -> None:
        self.quit_requested = True
