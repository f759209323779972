"""What a video file holds: size, rate, time base, colour, rotation, other streams.

``probe(path)`` opens the file, checks that it has a decodable video stream with at least
one frame, and returns a frozen :class:`VideoInfo`. Every problem becomes an
:class:`~fmsmi.errors.InputError` whose message starts with the file's path and says the
cause in one line. No torch here (the live player reuses this module).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from fmsmi.errors import InputError

log = logging.getLogger(__name__)

# AVColorSpace values -> the swscale matrix name PyAV's reformatter takes.
_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
_SPACE_TAG = {"ITU709": 1, "FCC": 4, "ITU601": 6, "SMPTE240M": 7, "BT2020": 9}
# Luma weights (Kr, Kb) of each matrix: Y = Kr R + (1 - Kr - Kb) G + Kb B.
LUMA_WEIGHTS = {"ITU709": (0.2126, 0.0722), "FCC": (0.30, 0.11), "ITU601": (0.299, 0.114),
                "SMPTE240M": (0.212, 0.087), "BT2020": (0.2627, 0.0593)}
# AVColorRange values
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2
SPACE_UNSPECIFIED = 2
MAX_PIXELS = 7680 * 4320      # 8K: beyond it the network's activations do not fit a sane budget


@dataclass(frozen=True)
class Colour:
    """How the source's samples map to RGB, and the tags to write on the output.

    ``matrix`` and ``full_range`` are what the conversion uses (untagged sources get the
    usual guess: BT.709 from 720 lines up, BT.601 below; limited range unless a JPEG-range
    pixel format). The ``*_tag`` fields are the source's raw values (AVColorSpace,
    AVColorRange, AVColorPrimaries, AVColorTransferCharacteristic), copied to the output.
    """

    matrix: str
    full_range: bool
    space_tag: int = SPACE_UNSPECIFIED
    range_tag: int = RANGE_UNSPECIFIED
    primaries_tag: int = 2
    trc_tag: int = 2
    is_rgb: bool = False

    @property
    def range_name(self) -> str:
        """The swscale range name of the samples: "JPEG" (full) or "MPEG" (limited)."""
        return "JPEG" if self.full_range else "MPEG"

    def for_yuv_output(self) -> tuple[str, str, int, int]:
        """(matrix, range name, colorspace tag, range tag) to write YUV with: the source's own
        (a JPEG-range pixel format without a range tag gets the full-range tag); an RGB source
        becomes limited-range YUV with the guessed matrix, tagged so."""
        if self.is_rgb:
            return self.matrix, "MPEG", _SPACE_TAG[self.matrix], RANGE_LIMITED
        range_tag = self.range_tag or (RANGE_FULL if self.full_range else RANGE_UNSPECIFIED)
        return self.matrix, self.range_name, self.space_tag, range_tag


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    time_base: Fraction       # of the video stream; frame pts count in it
    rate: Fraction            # average frame rate (guessed when the container does not say)
    frame_count: int          # from the container, 0 when unknown
    duration: float | None    # seconds, None when unknown
    start_pts: int            # the first frame's pts
    rotation: int             # degrees counter-clockwise from the display matrix
    sample_aspect_ratio: Fraction | None
    colour: Colour
    audio_streams: int
    subtitle_streams: int

    @property
    def nominal_step(self) -> int:
        """One frame interval at ``rate``, in ``time_base`` units (at least 1)."""
        return max(1, round(1 / (self.rate * self.time_base)))

    @property
    def expected_frames(self) -> int:
        """The frame count, or an estimate from duration and rate (0 when neither is known)."""
        if self.frame_count:
            return self.frame_count
        if self.duration:
            return max(1, round(self.duration * self.rate))
        return 0


def open_input(path: Path) -> av.container.InputContainer:
    """``av.open`` with every failure turned into an InputError naming the file and the cause."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a video file")
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file")
        return av.open(str(path), metadata_errors="replace")
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied") from exc
    except av.error.InvalidDataError as exc:
        raise InputError(f"{path}: not a video file or corrupt (no container format recognised)") from exc
    except av.error.EOFError as exc:
        raise InputError(f"{path}: truncated or empty container (the file ends inside its header)") from exc
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{path}: cannot be opened ({reason_of(exc)})") from exc


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The first video stream that is not a cover picture, or an InputError."""
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kinds = ", ".join(f"{s.type} {_codec_name(s)}" for s in container.streams) or "none"
        raise InputError(f"{path}: no video stream (streams: {kinds})")
    stream = streams[0]
    if stream.codec_context is None:
        raise InputError(f"{path}: unsupported video codec (no decoder for it in this FFmpeg build)")
    return stream


def colour_of(frame: av.VideoFrame) -> Colour:
    """Conversion matrix/range and tags of a decoded frame (see :class:`Colour`)."""
    fmt = frame.format
    full = frame.color_range == RANGE_FULL or (frame.color_range == RANGE_UNSPECIFIED and fmt.name.startswith("yuvj"))
    matrix = _MATRIX.get(frame.colorspace) or ("ITU709" if frame.height >= 720 else "ITU601")
    return Colour(matrix=matrix, full_range=full or fmt.is_rgb, space_tag=int(frame.colorspace),
                  range_tag=int(frame.color_range), primaries_tag=int(frame.color_primaries),
                  trc_tag=int(frame.color_trc), is_rgb=bool(fmt.is_rgb))


def bit_depth_of(fmt: av.VideoFormat) -> int:
    return max((component.bits for component in fmt.components), default=8)


def probe(path: str | Path) -> VideoInfo:
    """Describe ``path``'s first video stream; decodes its first frame to be sure there is one."""
    path = Path(path)
    container = open_input(path)
    try:
        stream = video_stream(container, path)
        check_size(path, stream.codec_context.width, stream.codec_context.height)  # before decoding it
        first = first_frame(container, stream, path)
        check_size(path, first.width, first.height)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            rate = Fraction(25)
            log.warning("%s: no frame rate in the container; assuming 25 fps", path)
        time_base = stream.time_base or Fraction(1, 90000)
        if stream.duration is not None:
            duration = float(stream.duration * time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = None
        return VideoInfo(
            path=path, container=container.format.name, codec=stream.codec_context.name,
            width=first.width, height=first.height, pix_fmt=first.format.name,
            bit_depth=bit_depth_of(first.format), time_base=Fraction(time_base), rate=Fraction(rate),
            frame_count=int(stream.frames or 0), duration=duration,
            start_pts=first.pts if first.pts is not None else 0, rotation=int(first.rotation or 0),
            sample_aspect_ratio=Fraction(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else None,
            colour=colour_of(first), audio_streams=len(container.streams.audio),
            subtitle_streams=len(container.streams.subtitles))
    finally:
        container.close()


def check_size(path: Path, width: int, height: int) -> None:
    """An InputError when a ``width`` x ``height`` picture is more than fmsmi takes (8K)."""
    if width * height > MAX_PIXELS:
        raise InputError(f"{path}: frame size {width}x{height} is larger than the model takes "
                         f"(at most {MAX_PIXELS} pixels, 7680x4320)")


def first_frame(container, stream, path: Path) -> av.VideoFrame:
    from .decode import Damage, decode_packets  # here: decode imports this module

    damage = Damage()
    for frame in decode_packets(container, stream, damage):   # damaged packets: the decoder may still find one
        return frame
    raise InputError(f"{path}: no decodable video frames ({damage.describe() or 'zero frames'})")


def _codec_name(stream) -> str:
    context = stream.codec_context
    return context.name if context is not None else "unknown"


def reason_of(exc: BaseException) -> str:
    """An FFmpeg error in a few words."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__

