"""A seekable video source for the live player, on top of ``fmsmi.player.media``.

``fmsmi.player.media.decode.VideoDecoder`` reads a file front to back. The player also
needs to *seek*: jump to a time, decode from the keyframe at or before it, and land on the
exact frame that is on screen at that time (the last frame whose pts <= the target). This
module adds that on top of the decode layer without changing it: it opens the container
with the layer's own ``open_input``/``video_stream`` (same errors, same stream choice),
converts frames with ``VideoDecoder.to_rgb`` (same colour matrix and range; the RGBA the
display uploads comes from the same swscale call with format "rgba"), and applies
the layer's pts rules (non-increasing pts dropped, a missing pts = previous + one frame).
Frames decoded only to reach a seek target are never converted to RGB.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from fmsmi.errors import InputError
from fmsmi.player.media.decode import Damage, DecodedFrame, VideoDecoder, at_probed_size, convert, decode_packets
from fmsmi.player.media.probe import VideoInfo, open_input, probe, video_stream

log = logging.getLogger(__name__)


class SeekableSource:
    """Frames of ``path``'s first video stream from any position; see the module docstring.

    ``frames(start_pts=None)`` yields :class:`DecodedFrame` (HxWx3 uint8 RGB, integer pts);
    each call restarts decoding (seeking when ``start_pts`` is given). Not thread-safe: one
    thread (the pipeline's decode thread) uses it.
    """

    def __init__(self, path: str | Path, *, threads: int = 0, info: VideoInfo | None = None):
        self.path = Path(path)
        self.info = info if info is not None else probe(self.path)
        # The decode layer's converter: to_rgb depends only on the probed info. Its own
        # container is not needed, so it is closed at once.
        self._converter = VideoDecoder(self.path, info=self.info)
        self._converter.close()
        self._container = open_input(self.path)
        self._stream = video_stream(self._container, self.path)
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = threads
        self.dropped = 0
        self.damage = Damage()      # over the whole session (a packet decoded again after a seek counts again)
        self._fresh = True          # nothing demuxed yet: the start needs no seek

    @property
    def damaged_packets(self) -> int:
        """Packets skipped because the decoder rejected them or the demuxer flagged them."""
        return self.damage.packets

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> SeekableSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """HxWx3 uint8 RGB: the decode layer's conversion (source matrix and range)."""
        return self._converter.to_rgb(frame)

    def to_rgba(self, frame: av.VideoFrame) -> np.ndarray:
        """HxWx4 uint8 RGBA (opaque), converted by swscale in one pass with the same matrix
        and range as :meth:`to_rgb` (tests check the two agree): the texture upload format."""
        return convert(frame, self.info, "rgba")

    def frames(self, start_pts: int | None = None) -> Iterator[DecodedFrame]:
        """RGB frames from the beginning, or from the frame on screen at ``start_pts``."""
        for index, (frame, pts) in enumerate(self.decoded(start_pts)):
            yield DecodedFrame(self.to_rgb(frame), pts, index)

    def decoded(self, start_pts: int | None = None) -> Iterator[tuple[av.VideoFrame, int]]:
        """Decoded frames (not converted) from the beginning, or from the one on screen at
        ``start_pts``: decoding restarts at the keyframe before it and the frames before the
        target are skipped unconverted."""
        if start_pts is None or start_pts <= self.info.start_pts:
            self._seek(self.info.start_pts, to_start=True)
            start_pts = None
        else:
            self._seek(start_pts)
        pending: tuple[av.VideoFrame, int] | None = None   # candidate for the seek target
        for frame, pts in self._decoded():
            if start_pts is not None:
                if pts <= start_pts:
                    pending = (frame, pts)      # not yet past the target: maybe the one
                    continue
                if pending is not None:         # first frame past the target: the previous one lands
                    yield pending
                start_pts, pending = None, None
            yield frame, pts
        if pending is not None:                 # the target lies in the last frame
            yield pending

    @staticmethod
    def rgb_to_rgba(rgb: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 -> HxWx4 uint8 (opaque) through swscale (several times faster than a
        strided NumPy copy)."""
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").to_ndarray(format="rgba")

    def _seek(self, pts: int, to_start: bool = False) -> None:
        if to_start and self._fresh:
            return
        self._fresh = False
        try:
            if to_start:
                self._container.seek(0, backward=True, any_frame=False)   # container start
            else:
                self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: cannot seek to pts {pts} ({exc})") from exc
        self._stream.codec_context.flush_buffers()

    def _decoded(self) -> Iterator[tuple[av.VideoFrame, int]]:
        step = self.info.nominal_step
        last_pts: int | None = None
        self._fresh = False
        for frame in decode_packets(self._container, self._stream, self.damage):
            pts = frame.pts
            if pts is None:
                pts = self.info.start_pts if last_pts is None else last_pts + step
            if last_pts is not None and pts <= last_pts:
                self.dropped += 1
                continue
            last_pts = pts
            yield at_probed_size(frame, self.info), pts
