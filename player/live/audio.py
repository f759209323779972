"""Audio output (sounddevice/PortAudio) as the master clock.

When the file has an audio stream, ``--no-audio`` is not given and an output device
exists, :class:`AudioOutput` plays the stream and every block it hands to the device
re-anchors the :class:`~.clock.MediaClock` at the wall time that block will be heard
(PortAudio's ``outputBufferDacTime``): video then follows the sound card, not the other way
round. Otherwise the player runs on the monotonic clock alone, after a one-line notice.

- A decode thread (PyAV) resamples the stream to packed float32 at its own rate and keeps
  about a second of samples ahead in a buffer; the device callback only copies.
- While the clock is not running (before the first frame, paused, waiting after a seek)
  the callback outputs silence and consumes nothing.
- Audio more than ``ALIGN_LIMIT`` away from the clock (a stream that starts later than
  the video, a gap, a seek that landed early) is lined up with it -- silence until it is
  due, or the samples already past skipped -- rather than followed: only the small
  disagreements (device latency and drift) move the clock.
- Seeking restarts the decode thread at the new time (samples before it trimmed).

``stream_factory`` (default ``sounddevice.OutputStream``) is injectable: tests drive the
callback by hand with a fake clock.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

from fmsmi.player.media.probe import open_input

from .clock import MediaClock

log = logging.getLogger(__name__)

BUFFER_AHEAD = 1.0      # seconds of decoded audio kept ahead of the device
ALIGN_LIMIT = 0.2       # audio further than this from the clock is lined up, not followed


def audio_unavailable_reason() -> str | None:
    """None when sounddevice has an output device, else why not (one line)."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        return f"sounddevice/PortAudio not available ({exc})"
    try:
        sounddevice.query_devices(kind="output")
    except Exception as exc:   # sounddevice.PortAudioError, or ValueError for a bad default
        return f"no audio output device ({exc})"
    return None


@dataclass
class _Chunk:
    start: float            # media seconds of the first sample
    samples: np.ndarray     # (n, channels) float32
    offset: int = 0         # samples already consumed


class AudioOutput:
    """Plays ``path``'s first audio stream in step with ``clock``; see the module docstring."""

    def __init__(self, path: str | Path, clock: MediaClock, *, stream_factory: Callable | None = None,
                 blocksize: int = 1024):
        self.path = Path(path)
        self.clock = clock
        container = open_input(self.path)
        try:
            if not container.streams.audio:
                raise ValueError(f"{self.path}: no audio stream")
            stream = container.streams.audio[0]
            self.rate = int(stream.rate or stream.codec_context.sample_rate)
            self.channels = min(2, max(1, stream.channels))
        finally:
            container.close()
        self.blocksize = blocksize
        self._lock = threading.Condition()
        self._chunks: deque[_Chunk] = deque()
        self._buffered = 0.0
        self._epoch = 0
        self._request: tuple[int, float] | None = None
        self._stopping = False
        self._ended = False
        self.underruns = 0
        self.failure: BaseException | None = None
        if stream_factory is None:
            import sounddevice
            stream_factory = sounddevice.OutputStream
        self._stream = stream_factory(samplerate=self.rate, channels=self.channels, dtype="float32",
                                      blocksize=blocksize, latency="low", callback=self._callback)
        self.latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        self._thread = threading.Thread(target=self._decode_main, name="fmsmi-audio", daemon=True)

    # -- control (main thread) -------------------------------------------------------
    def start(self, media_time: float) -> None:
        """Decode from ``media_time`` and open the device (silent until the clock runs)."""
        self.seek(media_time)
        self._thread.start()
        self._stream.start()

    def seek(self, media_time: float) -> None:
        with self._lock:
            self._epoch += 1
            self._request = (self._epoch, media_time)
            self._chunks.clear()
            self._buffered = 0.0
            self._ended = False
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        try:
            self._stream.stop()
            self._stream.close()
        finally:
            if self._thread.is_alive():
                self._thread.join(2.0)

    # -- device callback (PortAudio's thread) ----------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        if status and getattr(status, "output_underflow", False):
            self.underruns += 1
        outdata.fill(0)
        if not self.clock.running:
            return
        heard_at = self.clock.wall() + self._output_delay(time_info)
        with self._lock:
            if not self._chunks:
                if not self._ended:
                    self.underruns += 1
                return
            # Audio and video disagree by more than a correction (audio that starts later
            # than the video, a gap in the stream, a seek that landed early): line the
            # audio up with the clock -- silence until it is due, or skip what is past.
            gap = self._head_time() - self.clock.time_at(heard_at)
            if gap > ALIGN_LIMIT:
                return
            if gap < -ALIGN_LIMIT:
                self._discard(int(-gap * self.rate))
                if not self._chunks:
                    return
            block_start = self._head_time()
            filled = 0
            while filled < frames and self._chunks:
                chunk = self._chunks[0]
                take = min(frames - filled, len(chunk.samples) - chunk.offset)
                outdata[filled:filled + take] = chunk.samples[chunk.offset:chunk.offset + take]
                chunk.offset += take
                filled += take
                if chunk.offset >= len(chunk.samples):
                    self._chunks.popleft()
            self._buffered -= filled / self.rate
            self._lock.notify_all()
        self.clock.sync_to_audio(block_start, heard_at)

    def _head_time(self) -> float:
        head = self._chunks[0]
        return head.start + head.offset / self.rate

    def _discard(self, samples: int) -> None:
        while samples > 0 and self._chunks:
            chunk = self._chunks[0]
            take = min(samples, len(chunk.samples) - chunk.offset)
            chunk.offset += take
            samples -= take
            self._buffered -= take / self.rate
            if chunk.offset >= len(chunk.samples):
                self._chunks.popleft()
        self._lock.notify_all()

    def _output_delay(self, time_info) -> float:
        """Seconds from now until this block's first sample leaves the speaker."""
        try:
            delay = float(time_info.outputBufferDacTime - time_info.currentTime)
        except (AttributeError, TypeError):
            delay = -1.0
        return delay if 0.0 <= delay < 1.0 else self.latency

    # -- decode thread ---------------------------------------------------------------
    def _decode_main(self) -> None:
        try:
            while True:
                with self._lock:
                    while self._request is None and not self._stopping:
                        self._lock.wait()
                    if self._stopping:
                        return
                    (epoch, media_time), self._request = self._request, None
                self._decode_from(epoch, media_time)
        except Exception as exc:   # audio is not worth stopping the video for: log, go silent
            self.failure = exc
            log.warning("audio stopped: %s", exc)

    def _decode_from(self, epoch: int, media_time: float) -> None:
        container = open_input(self.path)
        try:
            stream = container.streams.audio[0]
            time_base = stream.time_base or Fraction(1, self.rate)
            if media_time > 0:
                container.seek(int(Fraction(media_time).limit_denominator(1 << 30) / time_base), stream=stream,
                               backward=True)
            layout = "stereo" if self.channels == 2 else "mono"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=self.rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    if not self._push(epoch, out, media_time):
                        return
            for out in resampler.resample(None):
                if not self._push(epoch, out, media_time):
                    return
            with self._lock:
                if epoch == self._epoch:
                    self._ended = True
        finally:
            container.close()

    def _push(self, epoch: int, frame: av.AudioFrame, from_time: float) -> bool:
        """Queue a resampled frame (trimmed to start at ``from_time``); False when a seek
        or close made this decode run stale."""
        samples = frame.to_ndarray().reshape(-1, self.channels)
        start = float(frame.pts * frame.time_base) if frame.pts is not None else from_time
        if start < from_time:
            skip = min(len(samples), int(round((from_time - start) * self.rate)))
            samples, start = samples[skip:], start + skip / self.rate
        with self._lock:
            while self._buffered > BUFFER_AHEAD and epoch == self._epoch and not self._stopping:
                self._lock.wait(0.1)
            if epoch != self._epoch or self._stopping:
                return False
            if len(samples):
                self._chunks.append(_Chunk(start, np.ascontiguousarray(samples, dtype=np.float32)))
                self._buffered += len(samples) / self.rate
            return True
