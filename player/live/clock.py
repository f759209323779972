"""The playback clock: media time (seconds on the video's timeline) from a monotonic clock.

:class:`MediaClock` maps a wall clock (``time.monotonic`` by default, any callable in tests)
to media time through an *anchor*: ``media = anchor_media + (wall() - anchor_wall)``.
Pausing freezes it, seeking re-anchors it.

Without audio the anchor moves only on start, pause/resume and seek: video is paced by the
monotonic clock alone. With audio, the audio output is the master: every block it hands
to the device re-anchors the clock at the wall time the block's first sample will be
*heard* (:meth:`MediaClock.sync_to_audio`). Small disagreements (below ``tolerance``) are
ignored so that video pacing does not jitter with the audio callback's scheduling; larger
ones (device latency, a slower or faster sound card, an underrun) move the clock to the
audio. When the audio stops delivering (its stream ended, the device stalled) the clock
simply runs on from the last anchor.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

WallClock = Callable[[], float]


class MediaClock:
    """Media time from a wall clock; see the module docstring. Thread-safe."""

    def __init__(self, wall: WallClock = time.monotonic, tolerance: float = 0.004, max_correction: float = 0.1,
                 first_correction: float = 1.0, refusals: int = 3, rate_tolerance: float = 0.005):
        self.wall = wall
        self.tolerance = tolerance
        self.max_correction = max_correction        # seconds a later audio block may move the clock
        self.first_correction = first_correction    # ... and the first one after (re)starting (latency)
        self.refusals_allowed = refusals
        self.rate_tolerance = rate_tolerance        # audio may run this much faster/slower than the wall
        self.audio_trusted = True
        self.audio_refusals = 0
        self.audio_corrections = 0
        self._lock = threading.Lock()
        self._anchor = (0.0, 0.0)                   # (media, wall): media = media0 + (wall() - wall0)
        self._wall_anchor = (0.0, 0.0)              # the anchor as the controls last set it (no audio)
        self._audio_origin: tuple[float, float] | None = None   # first (media, heard) since the last (re)start
        self._running = False                       # started and not paused
        self._started = False

    # -- reading ---------------------------------------------------------------------
    def time(self) -> float:
        """Current media time in seconds (frozen while paused or before start)."""
        with self._lock:
            return self._time_locked(self.wall())

    def time_at(self, wall_time: float) -> float:
        """Media time at wall time ``wall_time`` as the clock stands now."""
        with self._lock:
            return self._time_locked(wall_time)

    def _time_locked(self, wall_now: float) -> float:
        media, wall = self._anchor
        return media + (wall_now - wall) if self._running else media

    @property
    def started(self) -> bool:
        return self._started

    @property
    def running(self) -> bool:
        """Started and not paused: media time is advancing."""
        return self._running

    @property
    def paused(self) -> bool:
        return self._started and not self._running

    # -- control ---------------------------------------------------------------------
    def _set_anchor(self, media: float, wall: float) -> None:
        self._anchor = self._wall_anchor = (media, wall)
        self._audio_origin = None

    def start(self, media_time: float) -> None:
        """Run from ``media_time``, now."""
        with self._lock:
            self._set_anchor(media_time, self.wall())
            self._running = self._started = True

    def pause(self) -> None:
        with self._lock:
            if self._running:
                now = self.wall()
                self._set_anchor(self._time_locked(now), now)
                self._running = False

    def resume(self) -> None:
        with self._lock:
            if self._started and not self._running:
                self._set_anchor(self._anchor[0], self.wall())
                self._running = True

    def hold(self, media_time: float) -> None:
        """Stop at ``media_time`` until :meth:`start` (a seek waiting for its first frame)."""
        with self._lock:
            self._set_anchor(media_time, self.wall())
            self._running = self._started = False

    # -- the audio master ------------------------------------------------------------
    def sync_to_audio(self, media_time: float, heard_at: float) -> bool:
        """Audio block starting at ``media_time`` reaches the listener at wall time ``heard_at``.

        Re-anchors the clock there when it disagrees by more than ``tolerance``; returns
        whether it did. Ignored while paused or not started, and once the audio is no
        longer trusted (see the module docstring).
        """
        with self._lock:
            if not self._running or not self.audio_trusted:
                return False
            media, wall = self._anchor
            error = abs(media + (heard_at - wall) - media_time)
            if self._audio_origin is None:
                if error > self.first_correction:
                    return self._refuse()
                self._audio_origin = (media_time, heard_at)
            else:
                # audio and wall must progress at (nearly) the same rate: a device with bogus
                # timing drifts away in small steps, each of them plausible on its own
                media_origin, heard_origin = self._audio_origin
                drift = abs((media_time - media_origin) - (heard_at - heard_origin))
                if error > self.max_correction or drift > self.max_correction + self.rate_tolerance * (
                        heard_at - heard_origin):
                    return self._refuse()
            if error <= self.tolerance:
                return False
            self._anchor = (media_time, heard_at)
            self.audio_corrections += 1
            return True

    def _refuse(self) -> bool:
        self.audio_refusals += 1
        if self.audio_refusals >= self.refusals_allowed:
            self.audio_trusted = False
            self._anchor = self._wall_anchor        # back on the system clock's own timeline
        return False


class FakeWall:
    """A wall clock that moves only when told to (tests)."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
