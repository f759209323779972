"""Presentation deadlines: pts -> media seconds, once; and the show / wait / drop decision.

Decoded frames carry an integer pts in the stream's time base. :class:`Timeline` turns it
into a *deadline* (media seconds) exactly once, when the frame enters the pipeline; from
there on everything downstream compares deadlines with the clock. With interpolation on,
the synthesized middle frame of a pair gets the midpoint of the two deadlines, so the
output runs at twice the source rate with every original frame at its own pts.

:class:`Pacer` is the display loop's rule: an item is shown once the clock reaches its
deadline; an item still unshown a whole output interval after its deadline has lost its
slot to the next frame and is dropped (and counted).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fmsmi.errors import ConfigError


class Kind(enum.Enum):
    ORIGINAL = "original"          # a decoded frame, at its pts
    INTERPOLATED = "interpolated"  # the synthesized middle of two decoded frames
    REPEAT = "repeat"              # the middle slot of a scene cut: the earlier frame held
    SKIPPED = "skipped"            # a middle frame not synthesized (it could not be on time):
                                   # counted as dropped when its slot comes


@dataclass(frozen=True, slots=True)
class PresentItem:
    """One frame for the display, with its deadline."""

    deadline: float              # media seconds
    kind: Kind
    image: np.ndarray            # HxWx4 uint8 RGBA, what the output pane shows
    source: np.ndarray           # HxWx4 uint8 RGBA, the latest original (compare's left pane)
    source_index: int            # index of the original frame (of frame0 for a middle frame)
    epoch: int                   # pipeline generation (bumped by each seek)
    infer_ms: float = 0.0        # time the interpolation took (middle frames)


@dataclass(frozen=True)
class Timeline:
    """Converts a stream's pts to media seconds; ``rate`` is its nominal frame rate."""

    time_base: Fraction
    rate: Fraction

    def __post_init__(self) -> None:
        if self.time_base <= 0:
            raise ConfigError(f"time_base={self.time_base}: expected a positive fraction")
        if self.rate <= 0:
            raise ConfigError(f"rate={self.rate}: expected a positive frame rate")

    def deadline(self, pts: int) -> float:
        return float(pts * self.time_base)

    def pts_at(self, seconds: float) -> int:
        """The pts of media time ``seconds`` (rounded down)."""
        return int(Fraction(seconds).limit_denominator(1 << 30) / self.time_base)

    @staticmethod
    def middle(deadline0: float, deadline1: float) -> float:
        return 0.5 * (deadline0 + deadline1)

    @property
    def frame_interval(self) -> float:
        return float(1 / self.rate)

    def output_interval(self, interpolating: bool) -> float:
        return self.frame_interval / 2 if interpolating else self.frame_interval


class Decision(enum.Enum):
    WAIT = "wait"
    SHOW = "show"
    DROP = "drop"


@dataclass
class Pacer:
    """Show at the deadline; drop when a whole output interval late (see module docstring).

    ``early`` lets a frame go slightly before its deadline: the draw and buffer swap take
    about that long, so the frame appears on time rather than one draw late.
    """

    late_limit: float
    early: float = 0.001

    def decide(self, deadline: float, now: float) -> tuple[Decision, float]:
        """The decision for an item due at ``deadline`` at media time ``now``, and the
        seconds to wait (WAIT) or by which it is late (SHOW/DROP)."""
        if now < deadline - self.early:
            return Decision.WAIT, deadline - self.early - now
        late = now - deadline
        if late > self.late_limit:
            return Decision.DROP, late
        return Decision.SHOW, late
