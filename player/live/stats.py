"""Playback statistics: frame counts and per-stage timings, shared by the pipeline's threads.

``--stats FILE.json`` writes :meth:`PlaybackStats.summary`: ``frames_shown``,
``frames_dropped`` (late at the display plus middle frames skipped because they could not
be ready in time), ``frames_target`` (every output slot that fell due during playback:
shown + dropped), ``target_fps``, ``achieved_fps`` (frames shown per second of playback)
and ``stage_ms`` (mean / p50 / p95 / max per stage: decode, convert, interpolate, upload,
draw, and the presentation lateness).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmsmi.errors import ConfigError

# keep at most this many samples per stage (a ring): a long session stays bounded
_MAX_SAMPLES = 20000


@dataclass
class StageTimes:
    samples: list[float] = field(default_factory=list)
    recent: deque = field(default_factory=lambda: deque(maxlen=30))
    count: int = 0
    total: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.recent.append(seconds)
        if len(self.samples) < _MAX_SAMPLES:
            self.samples.append(seconds)
        else:
            self.samples[self.count % _MAX_SAMPLES] = seconds

    def summary(self) -> dict:
        if not self.count:
            return {"count": 0}
        ms = np.asarray(self.samples) * 1e3
        return {"count": self.count, "mean": round(self.total / self.count * 1e3, 3),
                "p50": round(float(np.percentile(ms, 50)), 3), "p95": round(float(np.percentile(ms, 95)), 3),
                "max": round(float(ms.max()), 3)}


class PlaybackStats:
    """Counters and stage timings; every method is safe to call from any thread."""

    STAGES = ("decode", "convert", "scene", "interpolate", "interpolate_cpu", "upload", "draw", "lateness")

    def __init__(self):
        self._lock = threading.Lock()
        self.stages = {name: StageTimes() for name in self.STAGES}
        self.frames_shown = 0
        self.dropped_late = 0            # reached the display a whole output interval late
        self.skipped_interpolations = 0  # middle frames not synthesized: they could not be on time
        self.scene_cuts = 0
        self.seeks = 0
        self.playback_seconds = 0.0      # wall time spent playing (pauses excluded)
        self._playing_since: float | None = None

    def add_time(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.stages[stage].add(seconds)

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def recent_median_ms(self, stage: str, last: int = 30) -> float:
        """Median of the stage's last ``last`` (<= 30) timings, in ms (0 when none yet)."""
        with self._lock:
            recent = sorted(list(self.stages[stage].recent)[-last:])
            return 1e3 * recent[len(recent) // 2] if recent else 0.0

    def recent_mean_ms(self, stage: str) -> float:
        """Mean of the stage's last 30 timings, in ms (the title bar's readout)."""
        with self._lock:
            recent = self.stages[stage].recent
            return 1e3 * sum(recent) / len(recent) if recent else 0.0

    # playback time, for achieved_fps
    def playing(self, now: float | None = None) -> None:
        if self._playing_since is None:
            self._playing_since = time.monotonic() if now is None else now

    def stopped(self, now: float | None = None) -> None:
        if self._playing_since is not None:
            self.playback_seconds += (time.monotonic() if now is None else now) - self._playing_since
            self._playing_since = None

    @property
    def frames_dropped(self) -> int:
        return self.dropped_late + self.skipped_interpolations

    def summary(self, **context) -> dict:
        """The ``--stats`` document; ``context`` (input, fps, sizes...) goes in as given."""
        self.stopped()
        with self._lock:
            target = self.frames_shown + self.frames_dropped
            seconds = self.playback_seconds
            doc = dict(context)
            doc.update({
                "frames_shown": self.frames_shown,
                "frames_dropped": self.frames_dropped,
                "frames_target": target,
                "shown_ratio": round(self.frames_shown / target, 4) if target else None,
                "achieved_fps": round(self.frames_shown / seconds, 3) if seconds > 0 else 0.0,
                "playback_seconds": round(seconds, 3),
                "dropped_late": self.dropped_late,
                "skipped_interpolations": self.skipped_interpolations,
                "scene_cuts": self.scene_cuts,
                "seeks": self.seeks,
                "stage_ms": {name: times.summary() for name, times in self.stages.items()},
            })
        return doc

    def write(self, path: str | Path, **context) -> dict:
        doc = self.summary(**context)
        path = Path(path)
        try:
            path.write_text(json.dumps(doc, indent=2) + "\n")
        except OSError as exc:
            raise ConfigError(f"--stats {path}: cannot write ({exc.strerror or exc})") from exc
        return doc
