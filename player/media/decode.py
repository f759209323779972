"""Decode a file's video stream into RGB frames with integer pts (PyAV, threaded).

    with VideoDecoder(path) as decoder:
        for frame in decoder:          # DecodedFrame(image HxWx3 uint8 RGB, pts, index)
            ...

Frames keep their pts in the stream's ``time_base`` (``decoder.info.time_base``); a
scheduler turns them into deadlines once, downstream. Colour: the source's matrix
(BT.601/709/...) and range (limited/full) convert to full-range RGB. With ``deep=True`` a
source of more than 8 bits gives uint16 RGB (0..65535) instead of uint8.

FFmpeg decodes in its own threads and releases the GIL, so a decode thread runs beside
Python work. This module never imports torch (the live player reuses it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import av
import numpy as np

from fmsmi.errors import InputError

from .probe import VideoInfo, open_input, probe, video_stream

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    image: np.ndarray   # HxWx3 RGB, uint8 (or uint16 when deep), full range
    pts: int            # in the stream's time_base
    index: int          # 0-based position among the frames delivered


class VideoDecoder:
    """Iterates the first video stream of ``path``; see the module docstring.

    ``decoded()`` yields ``(av.VideoFrame, pts)`` without conversion and ``to_rgb(frame)``
    converts one: callers that time or place the two steps separately use them directly.
    Frames whose pts does not increase are dropped (a broken stream); frames without pts
    get the previous pts plus one nominal frame interval.
    """

    def __init__(self, path: str | Path, *, deep: bool = False, threads: int = 0, info: VideoInfo | None = None):
        self.path = Path(path)
        self.info = info if info is not None else probe(self.path)
        self.deep = deep and self.info.bit_depth > 8
        self.rgb_format = "rgb48le" if self.deep else "rgb24"
        self.dtype = np.uint16 if self.deep else np.uint8
        self._container = open_input(self.path)
        self._stream = video_stream(self._container, self.path)
        self._stream.thread_type = "AUTO"          # frame + slice threads
        self._stream.codec_context.thread_count = threads
        self.dropped = 0
        self.damaged_packets = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[DecodedFrame]:
        for index, (frame, pts) in enumerate(self.decoded()):
            yield DecodedFrame(self.to_rgb(frame), pts, index)

    def decoded(self) -> Iterator[tuple[av.VideoFrame, int]]:
        """Decoded frames in presentation order with a strictly increasing integer pts."""
        step = self.info.nominal_step
        last_pts: int | None = None
        delivered = 0
        for frame in self._frames():
            pts = frame.pts
            if pts is None:
                pts = self.info.start_pts if last_pts is None else last_pts + step
            if last_pts is not None and pts <= last_pts:
                self.dropped += 1
                log.debug("%s: frame with pts %d after %d dropped", self.path, pts, last_pts)
                continue
            last_pts = pts
            delivered += 1
            yield frame, pts
        if self.dropped:
            log.warning("%s: %d frame(s) with non-increasing timestamps dropped", self.path, self.dropped)
        if self.damaged_packets:
            log.warning("%s: %d damaged video packet(s) skipped", self.path, self.damaged_packets)
        if delivered == 0:
            raise InputError(f"{self.path}: no decodable video frames")

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """HxWx3 RGB array (uint8, or uint16 when deep) with the source's matrix and range."""
        colour = self.info.colour
        if colour.is_rgb:
            return frame.to_ndarray(format=self.rgb_format, threads=1)
        return frame.to_ndarray(format=self.rgb_format, src_colorspace=colour.matrix,
                                src_color_range=colour.range_name, dst_color_range="JPEG", threads=1)

    def _frames(self) -> Iterator[av.VideoFrame]:
        try:
            for packet in self._container.demux(self._stream):
                try:
                    yield from packet.decode()
                except av.error.InvalidDataError:
                    self.damaged_packets += 1   # players skip a damaged packet; so do we
        except av.FFmpegError as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError(f"{self.path}: corrupt video stream ({reason})") from exc
