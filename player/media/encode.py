"""Encode RGB frames to a video file and copy the source's audio and subtitles (PyAV).

    with VideoEncoder(path, info, rate=2 * info.rate, time_base=info.time_base / 2) as encoder:
        encoder.write(image, pts)      # HxWx3 uint8 (or uint16) RGB, pts in time_base
        encoder.finish()               # flush; without it the context manager aborts

The output keeps the source's colour matrix, range, primaries and transfer tags (frames
convert with the same matrix and range they were decoded with), its rotation, and its
bit depth (more than 8 bits -> a 10-bit pixel format where the codec has one). Audio and
subtitle packets are copied without re-encoding, read from a second demuxer of the source
and interleaved by time with the video as it is written, so memory stays bounded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Self

import av
import numpy as np

from fmsmi.errors import ConfigError, FmsmiError, InputError

from .probe import LUMA_WEIGHTS, VideoInfo, open_input, reason_of

log = logging.getLogger(__name__)

# How far ahead of the video the copied streams may run, in seconds.
_INTERLEAVE_LEAD = 0.5


class OutputError(FmsmiError):
    """The output file cannot be written (a full disk, a read-only file system, an I/O error)."""


@dataclass(frozen=True)
class EncodeSettings:
    codec: str = "libx264"
    crf: int | None = 18
    preset: str | None = "veryfast"
    pix_fmt: str | None = None      # None: chosen from the source (bit depth, odd size)
    threads: int = 0                # encoder threads, 0: FFmpeg decides

    def __post_init__(self) -> None:
        try:
            codec = av.codec.Codec(self.codec, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            raise ConfigError(f"codec={self.codec!r}: expected a video encoder of this FFmpeg build "
                              f"(e.g. libx264, libx265, libvpx-vp9)") from None
        if codec.type != "video":
            raise ConfigError(f"codec={self.codec!r}: expected a video encoder, got a {codec.type} one")
        if self.crf is not None and not 0 <= self.crf <= 63:
            raise ConfigError(f"crf={self.crf}: expected 0..63")
        if self.threads < 0:
            raise ConfigError(f"threads={self.threads}: expected >= 0")


def choose_pix_fmt(settings: EncodeSettings, info: VideoInfo) -> str:
    """The output pixel format: yuv420p, 10-bit when the source is deeper than 8 bits, 4:4:4
    when the size is odd (4:2:0 needs even sizes); the codec's own first choice otherwise."""
    codec = av.codec.Codec(settings.codec, "w")
    supported = [fmt.name for fmt in (codec.video_formats or ())]
    if settings.pix_fmt is not None:
        if supported and settings.pix_fmt not in supported:
            raise ConfigError(f"pix_fmt={settings.pix_fmt!r}: codec {settings.codec} takes {supported}")
        return settings.pix_fmt
    odd = info.width % 2 or info.height % 2
    chroma = "444" if odd else "420"
    wanted = [f"yuv{chroma}p10le", f"yuv{chroma}p"] if info.bit_depth > 8 else [f"yuv{chroma}p"]
    for name in wanted:
        if not supported or name in supported:
            return name
    log.warning("codec %s takes none of %s; encoding as %s", settings.codec, wanted, supported[0])
    return supported[0]


class VideoEncoder:
    """Writes frames at ``rate`` with pts in ``time_base``; see the module docstring."""

    def __init__(self, path: str | Path, info: VideoInfo, *, rate: Fraction, time_base: Fraction,
                 settings: EncodeSettings = EncodeSettings(), copy_streams: bool = True,
                 copy_end: float | None = None, label: str | Path | None = None):
        self.path = Path(path)
        self.label = label if label is not None else self.path   # the name errors give (a temporary file's final name)
        self.copy_end = copy_end     # seconds: copied packets from here on are left out (a cut clip)
        self.info = info
        self.time_base = Fraction(time_base)
        self.pix_fmt = choose_pix_fmt(settings, info)
        self._yuv = info.colour.for_yuv_output()
        self.frames_written = 0
        self._finished = False
        try:
            self._output = av.open(str(self.path), "w")
        except ValueError as exc:  # PyAV: "Could not determine output format"
            raise ConfigError(f"output {self.label}: unknown container format for its extension "
                              f"(expected e.g. .mp4, .mkv, .mov)") from exc
        except (av.FFmpegError, OSError) as exc:
            raise ConfigError(f"output {self.label}: cannot be created ({exc})") from exc
        try:
            self._stream = self._add_video_stream(settings, rate)
            self._source = None
            self._copied: dict[int, av.stream.Stream] = {}
            if copy_streams:
                self._open_copies()
            self._pending = None   # the next copied packet, read ahead
            self._copy_packets = self._source.demux(*self._source_streams) if self._copied else iter(())
        except BaseException:
            self._close_containers()
            raise

    # -- set-up ---------------------------------------------------------------------------

    def _add_video_stream(self, settings: EncodeSettings, rate: Fraction) -> av.video.stream.VideoStream:
        info, colour = self.info, self.info.colour
        options = {}
        if settings.crf is not None:
            options["crf"] = str(settings.crf)
        if settings.preset is not None:
            options["preset"] = settings.preset
        if settings.codec == "libx265":
            options["x265-params"] = "log-level=error"   # x265 prints a page of info to stderr otherwise
        try:
            stream = self._output.add_stream(settings.codec, rate=rate, options=options)
        except ValueError as exc:   # PyAV: "'avi' format does not support 'x' codec"
            raise ConfigError(f"codec={settings.codec!r}: cannot be stored in {self.label} ({exc})") from None
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = self.pix_fmt
        stream.time_base = self.time_base
        context = stream.codec_context
        context.time_base = self.time_base
        context.thread_count = settings.threads
        if info.sample_aspect_ratio:
            context.sample_aspect_ratio = info.sample_aspect_ratio
        _, _, context.colorspace, context.color_range = colour.for_yuv_output()
        context.color_primaries = colour.primaries_tag
        context.color_trc = colour.trc_tag
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        try:
            context.open()   # now, so that bad settings fail before any frame is decoded
        except av.FFmpegError as exc:
            raise ConfigError(f"codec={settings.codec!r} with options {options} and pix_fmt {self.pix_fmt}: "
                              f"the encoder refused them ({getattr(exc, 'strerror', None) or exc})") from None
        return stream

    def _open_copies(self) -> None:
        source = open_input(self.info.path)
        self._source = source
        streams = []
        supported = self._output.supported_codecs
        for stream in list(source.streams.audio) + list(source.streams.subtitles):
            name = stream.codec_context.name if stream.codec_context is not None else None
            if name is None or name not in supported:
                log.warning("%s: %s stream #%d (%s) cannot be stored in a %s file; not copied",
                            self.info.path, stream.type, stream.index, name or "unknown codec",
                            self._output.format.name)
                continue
            self._copied[stream.index] = self._output.add_stream_from_template(stream)
            streams.append(stream)
        self._source_streams = streams

    # -- writing ----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._finished:
            self.abort()

    def encode_frame(self, image: np.ndarray, pts: int, duration: int | None = None) -> av.VideoFrame:
        """RGB array -> a frame in the output pixel format, matrix and range (the convert step)."""
        if image.shape != (self.info.height, self.info.width, 3):
            raise ConfigError(f"image.shape={image.shape}: expected ({self.info.height}, {self.info.width}, 3)")
        rgb = "rgb48le" if image.dtype == np.uint16 else "rgb24"
        frame = av.VideoFrame.from_ndarray(image, format=rgb)
        matrix, value_range, _, _ = self._yuv
        frame = frame.reformat(format=self.pix_fmt, src_color_range="JPEG", dst_colorspace=matrix,
                               dst_color_range=value_range, threads=1)
        return self.stamp(frame, pts, duration)

    def stamp(self, frame: av.VideoFrame, pts: int, duration: int | None = None) -> av.VideoFrame:
        """``frame`` (in the output's pixel format) with the output's timing."""
        frame.pts = pts
        frame.time_base = self.time_base
        if duration is not None:
            frame.duration = duration
        return frame

    def yuv420p_weights(self) -> tuple[float, float, bool] | None:
        """(Kr, Kb, full range) when frames can be written plane by plane from RGB: the output
        is 8-bit 4:2:0 with a known matrix; None otherwise (use ``encode_frame``)."""
        matrix, value_range, _, _ = self._yuv
        if self.pix_fmt != "yuv420p" or matrix not in LUMA_WEIGHTS:
            return None
        return (*LUMA_WEIGHTS[matrix], value_range == "JPEG")

    def blank_frame(self) -> tuple[av.VideoFrame, list[np.ndarray]]:
        """A new frame in the output's pixel format and size, and writable views of its
        planes (rows without their padding) to fill before ``stamp``."""
        frame = av.VideoFrame(self.info.width, self.info.height, self.pix_fmt)
        planes = [np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:plane.height, :plane.width]
                  for plane in frame.planes]
        return frame, planes

    def passes_through(self, frame: av.VideoFrame) -> bool:
        """Whether a decoded source frame can be encoded as it is: the output's pixel format
        and size, from a YUV source (whose matrix and range the output keeps)."""
        return (not self.info.colour.is_rgb and frame.format.name == self.pix_fmt
                and (frame.width, frame.height) == (self.info.width, self.info.height))

    def retime(self, frame: av.VideoFrame, pts: int, duration: int | None = None) -> av.VideoFrame:
        """A decoded source frame (see :meth:`passes_through`) with the output's timing, its
        pixels untouched: an original frame of the source reaches the encoder without an
        RGB round trip (bit-exact with a lossless encoder). Its picture type is cleared so
        the encoder places keyframes itself."""
        frame.pict_type = av.video.frame.PictureType.NONE
        return self.stamp(frame, pts, duration if duration is not None else 0)

    def write_frame(self, frame: av.VideoFrame) -> None:
        """Encode one converted frame (from ``encode_frame``) and mux what comes out."""
        self._mux_video(self._stream.encode(frame))
        self.frames_written += 1

    def write(self, image: np.ndarray, pts: int, duration: int | None = None) -> None:
        self.write_frame(self.encode_frame(image, pts, duration))

    def finish(self) -> None:
        """Flush the encoder, copy the rest of the other streams, close the file (an
        OutputError when the file's end cannot be written: then it is not complete)."""
        self._mux_video(self._stream.encode(None))
        self._copy_until(None)
        self._finished = True
        try:
            self._output.close()          # writes the trailer (the MP4 index): must succeed
        except (av.FFmpegError, OSError) as exc:
            self._close_containers()
            raise self._write_failed(exc) from exc
        self._close_containers()

    def abort(self) -> None:
        """Close without flushing (the file is incomplete: the caller deletes it)."""
        self._finished = True
        self._close_containers()

    def _close_containers(self) -> None:
        for container in (getattr(self, "_output", None), getattr(self, "_source", None)):
            if container is not None:
                try:
                    container.close()
                except av.FFmpegError as exc:
                    log.debug("closing %s: %s", container.name, exc)

    def _write_failed(self, exc: BaseException) -> OutputError:
        return OutputError(f"output {self.label}: writing failed ({reason_of(exc)})")

    def _mux(self, packet: av.Packet) -> None:
        try:
            self._output.mux(packet)
        except (av.FFmpegError, OSError) as exc:   # ENOSPC, EROFS, EFBIG, EIO: nothing fmsmi can fix
            raise self._write_failed(exc) from exc

    def _mux_video(self, packets) -> None:
        for packet in packets:
            if packet.dts is not None:
                self._copy_until(float(packet.dts * packet.time_base) + _INTERLEAVE_LEAD)
            self._mux(packet)

    def _copy_until(self, seconds: float | None) -> None:
        """Mux copied packets up to ``seconds`` (None: all that remain)."""
        while True:
            if self._pending is None:
                try:
                    self._pending = next(self._copy_packets)
                except StopIteration:
                    return
                except av.FFmpegError as exc:
                    raise InputError(f"{self.info.path}: reading audio/subtitles failed ({exc})") from exc
            packet = self._pending
            if packet.dts is None:   # the demuxer's flush packets carry nothing to copy
                self._pending = None
                continue
            time = float(packet.dts * packet.time_base)
            if self.copy_end is not None and time >= self.copy_end:
                self._copy_packets = iter(())
                self._pending = None
                return
            if seconds is not None and time > seconds:
                return
            self._pending = None
            packet.stream = self._copied[packet.stream.index]
            self._mux(packet)
