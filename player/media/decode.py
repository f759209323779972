"""Decode a file's video stream into RGB frames with integer pts (PyAV, threaded).

    with VideoDecoder(path) as decoder:
        for frame in decoder:          # DecodedFrame(image HxWx3 uint8 RGB, pts, index)
            ...

Frames keep their pts in the stream's ``time_base`` (``decoder.info.time_base``); a
scheduler turns them into deadlines once, downstream. Colour: the source's matrix
(BT.601/709/...) and range (limited/full) convert to full-range RGB. With ``deep=True`` a
source of more than 8 bits gives uint16 RGB (0..65535) instead of uint8.

Damaged data: like ffmpeg, decoding goes on past a packet the decoder rejects or the
demuxer flags as corrupt (``damaged_packets`` counts them), and a read error after the
first frame ends the stream there (``read_error`` says why) instead of failing the run.
Frames of another size than the first (a mid-stream change) are scaled to the first's.

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

from .probe import VideoInfo, open_input, probe, reason_of, video_stream

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    image: np.ndarray   # HxWx3 RGB, uint8 (or uint16 when deep), full range
    pts: int            # in the stream's time_base
    index: int          # 0-based position among the frames delivered


@dataclass
class Damage:
    """What a decode met on the way: damaged packets skipped, and how the input ended."""

    packets: int = 0                 # packets the decoder rejected or the demuxer flagged corrupt
    last_error: str | None = None    # the decoder's last complaint
    read_error: str | None = None    # the input ended early: the demuxer's error

    def describe(self) -> str:
        """How the stream was damaged, in a few words ("" when it was not)."""
        parts = []
        if self.packets:
            parts.append(f"{self.packets} damaged packet(s)" + (f", last: {self.last_error}" if self.last_error else ""))
        if self.read_error:
            parts.append(f"read error: {self.read_error}")
        return "; ".join(parts)


def decode_packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                   damage: Damage) -> Iterator[av.VideoFrame]:
    """``stream``'s decoded frames, going on past damaged packets (counted in ``damage``); a
    read error ends the stream (as ffmpeg does) and is noted in ``damage.read_error``."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            damage.read_error = reason_of(exc)
            try:
                yield from stream.codec_context.decode(None)   # drain the frames still in the decoder
            except av.FFmpegError:
                pass
            return
        damaged = bool(packet.is_corrupt and packet.size)
        try:
            frames = packet.decode()
        except MemoryError:
            raise
        except av.FFmpegError as exc:    # invalid data, an impossible size, an unsupported feature
            damaged = True
            frames = ()
            damage.last_error = reason_of(exc)
        if damaged:
            damage.packets += 1
        yield from frames


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
        self.damage = Damage()

    @property
    def damaged_packets(self) -> int:
        """Packets skipped because the decoder rejected them or the demuxer flagged them."""
        return self.damage.packets

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
        if delivered == 0:
            raise InputError(f"{self.path}: no decodable video frames ({self.damage.describe() or 'zero frames'})")
        if self.damage.packets:
            log.warning("%s: %d damaged video packet(s) skipped", self.path, self.damage.packets)
        if self.damage.read_error:
            log.warning("%s: the input ends early after %d frame(s): %s", self.path, delivered,
                        self.damage.read_error)

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """HxWx3 RGB array (uint8, or uint16 when deep) with the source's matrix and range."""
        return convert(frame, self.info, self.rgb_format)

    def _frames(self) -> Iterator[av.VideoFrame]:
        return (at_probed_size(frame, self.info) for frame in decode_packets(self._container, self._stream, self.damage))


def at_probed_size(frame: av.VideoFrame, info: VideoInfo) -> av.VideoFrame:
    """``frame``, scaled to the first frame's size when the stream changed size mid-way (as
    ffmpeg's automatic scaler does: the pipeline, the encoder and the window keep one size)."""
    if (frame.width, frame.height) == (info.width, info.height):
        return frame
    scaled = frame.reformat(width=info.width, height=info.height, interpolation="BICUBIC")
    scaled.pts = frame.pts
    return scaled


def convert(frame: av.VideoFrame, info: VideoInfo, format: str) -> np.ndarray:
    """``frame`` as an HxWxC array in ``format`` (rgb24, rgb48le, rgba), converted with the
    source's matrix and range."""
    colour = info.colour
    if colour.is_rgb:
        return frame.to_ndarray(format=format, threads=1)
    return frame.to_ndarray(format=format, src_colorspace=colour.matrix, src_color_range=colour.range_name,
                            dst_color_range="JPEG", threads=1)
