"""Small synthetic clips with known motion, written with PyAV, for the media and export tests.

``make_clip(path, ...)`` draws a textured square moving ``speed`` px per frame to the right
over a textured background (optionally a different background from ``cut_at`` on: a scene
cut), with optional AAC audio, variable frame rate, 10-bit samples, colour tags and rotation.
``read_video``/``count_packets`` read results back for the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

AUDIO_RATE = 48000


@dataclass(frozen=True)
class Clip:
    path: Path
    width: int
    height: int
    frames: int
    rate: Fraction
    time_base: Fraction
    pts: tuple[int, ...]          # each frame's pts in time_base
    images: tuple[np.ndarray, ...]  # the RGB frames as drawn (uint8), before encoding

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last (the last lasts as long as the one before)."""
        last = self.pts[-1] - self.pts[-2] if len(self.pts) > 1 else round(1 / (self.rate * self.time_base))
        return float((self.pts[-1] + last - self.pts[0]) * self.time_base)


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """Detail in luma (soft 4-px noise blocks) over slowly varying colour, as in real video:
    something a motion estimator can lock onto that 4:2:0 chroma still carries."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.35, 1.0, size=(height // 4 + 2, width // 4 + 2)).astype(np.float32)
    detail = np.repeat(np.repeat(coarse, 4, axis=0), 4, axis=1)[:height, :width]
    kernel = np.ones(3, np.float32) / 3
    for axis in (0, 1):
        detail = np.apply_along_axis(lambda line: np.convolve(line, kernel, mode="same"), axis, detail)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    colour = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (xx / (2.5 * width) + yy / (3 * height)) + p) for p in phase], -1)
    return (255 * colour * detail[..., None]).clip(0, 255).astype(np.uint8)


def draw_frame(background: np.ndarray, sprite: np.ndarray, x: int, y: int) -> np.ndarray:
    image = background.copy()
    height, width = image.shape[:2]
    size = sprite.shape[0]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + size), min(height, y + size)
    if x1 > x0 and y1 > y0:
        image[y0:y1, x0:x1] = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
    return image


def make_clip(path: str | Path, *, width: int = 64, height: int = 48, frames: int = 10, rate: int = 25,
              speed: int = 2, audio: bool = False, vfr: bool = False, bit_depth: int = 8,
              codec: str = "libx264", pix_fmt: str | None = None, cut_at: int | None = None,
              colour: tuple[int, int, int, int] | None = None, rotation: int = 0) -> Clip:
    """Write a clip; see the module docstring. ``colour`` = (space, range, primaries, trc) tags.

    VFR clips use a 1/1000 time base with intervals cycling 40, 20, 60 ms; others 1/rate.
    Odd sizes need a 4:4:4 ``pix_fmt`` with libx264 (chosen automatically).
    """
    path = Path(path)
    if pix_fmt is None:
        odd = width % 2 or height % 2
        pix_fmt = ("yuv444p" if odd else "yuv420p") + ("10le" if bit_depth > 8 else "")
    time_base = Fraction(1, 1000) if vfr else Fraction(1, rate)
    pts, t = [], 0
    for index in range(frames):
        pts.append(t)
        t += (40, 20, 60)[index % 3] if vfr else 1
    background = texture(height, width, seed=1)
    other = texture(height, width, seed=7)[::-1].copy()
    sprite = texture(16, 16, seed=3) // 2 + 120
    images = []
    for index in range(frames):
        scene = other if cut_at is not None and index >= cut_at else background
        images.append(draw_frame(scene, sprite, 4 + speed * index, height // 2 - 8))

    output = av.open(str(path), "w")
    stream = output.add_stream(codec, rate=rate, options={"crf": "10", "preset": "ultrafast"} if codec.startswith("libx26") else {})
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.time_base = time_base
    stream.codec_context.time_base = time_base
    if colour is not None:
        context = stream.codec_context
        context.colorspace, context.color_range, context.color_primaries, context.color_trc = colour
    if rotation:
        stream.set_display_rotation(rotation)
    audio_stream = None
    if audio:
        audio_stream = output.add_stream("aac", rate=AUDIO_RATE)
        audio_stream.layout = "stereo"
    matrix = {1: "ITU709", 5: "ITU601", 6: "ITU601"}.get(colour[0] if colour else 2, "ITU601")
    value_range = "JPEG" if colour and colour[1] == 2 else "MPEG"
    for image, frame_pts in zip(images, pts):
        if bit_depth > 8:
            frame = av.VideoFrame.from_ndarray(image.astype(np.uint16) * 257, format="rgb48le")
        else:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame = frame.reformat(format=pix_fmt, dst_colorspace=matrix, dst_color_range=value_range)
        frame.pts = frame_pts
        frame.time_base = time_base
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)
    if audio_stream is not None:
        seconds = float((pts[-1] - pts[0]) * time_base) + float(1 / Fraction(rate))
        _write_tone(output, audio_stream, seconds)
    output.close()
    return Clip(path, width, height, frames, Fraction(rate), time_base, tuple(pts), tuple(images))


def _write_tone(output, stream, seconds: float) -> None:
    samples = int(seconds * AUDIO_RATE)
    t = np.arange(samples, dtype=np.float32) / AUDIO_RATE
    wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    block = 1024
    for start in range(0, samples, block):
        chunk = wave[start:start + block]
        frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)


def make_audio_only(path: str | Path, seconds: float = 0.5) -> Path:
    path = Path(path)
    output = av.open(str(path), "w")
    stream = output.add_stream("aac", rate=AUDIO_RATE)
    stream.layout = "stereo"
    _write_tone(output, stream, seconds)
    output.close()
    return path


def make_zero_frames(path: str | Path) -> Path:
    """An MP4 with a video track and no samples."""
    path = Path(path)
    output = av.open(str(path), "w", options={"movflags": "frag_keyframe+empty_moov"})
    stream = output.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    output.start_encoding()
    output.close()
    return path


def make_unsupported_codec(path: str | Path) -> Path:
    """A Matroska file whose video track's codec no FFmpeg decoder knows."""
    path = Path(path)
    make_clip(path, frames=3)
    data = path.read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_FMSMI/UNKNOWN"))
    return path


@dataclass(frozen=True)
class VideoFacts:
    frames: int
    width: int
    height: int
    pix_fmt: str
    rate: Fraction
    seconds: tuple[float, ...]     # each frame's presentation time
    duration: float                # container duration, seconds
    images: tuple[np.ndarray, ...]
    rotation: int
    colour: tuple[int, int, int, int]


def read_video(path: str | Path, images: bool = True) -> VideoFacts:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times, frames, first = [], [], None
        for frame in container.decode(stream):
            first = first or frame
            times.append(float(frame.pts * stream.time_base))
            if images:
                frames.append(frame.to_ndarray(format="rgb24"))
        context = stream.codec_context
        return VideoFacts(
            frames=len(times), width=context.width, height=context.height, pix_fmt=context.pix_fmt,
            rate=Fraction(stream.average_rate), seconds=tuple(times),
            duration=container.duration / av.time_base if container.duration else 0.0, images=tuple(frames),
            rotation=int(first.rotation or 0),
            colour=(int(first.colorspace), int(first.color_range), int(first.color_primaries), int(first.color_trc)))


def audio_packets(path: str | Path) -> list[bytes]:
    """The payloads of the first audio stream's packets, in order."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        return [bytes(packet) for packet in container.demux(container.streams.audio[0]) if packet.size]
