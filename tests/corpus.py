"""A bad-input corpus, generated on the fly (no binary blobs): broken containers, damaged
streams, odd sizes and formats, lying headers. Used by test_reliability.py and test_fuzz.py.

Each ``make_*`` writes one file into a folder and returns its path. The MP4 patches work
on the box tree (``mp4_boxes``): they change header fields in place, so the rest of the
file stays a valid MP4 written by PyAV.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from media import (
    make_audio_only,
    make_clip,
    make_unsupported_codec,
    make_zero_frames,
    texture,
)

# MP4 boxes whose payload is a list of boxes
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex", b"moof", b"traf"}


def mp4_boxes(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, offset, size, depth) of every box, depth first (stsd's sample entries included)."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset, size, depth
        if kind in _CONTAINERS:
            yield from mp4_boxes(data, offset + header, offset + size, depth + 1)
        elif kind == b"stsd":      # full box (4) + entry count (4), then sample entries
            yield from mp4_boxes(data, offset + header + 8, offset + size, depth + 1)
        offset += size


def find_box(data: bytes, kind: bytes) -> tuple[int, int]:
    """(offset, size) of the first box of ``kind``."""
    for box, offset, size, _ in mp4_boxes(data):
        if box == kind:
            return offset, size
    raise AssertionError(f"no {kind!r} box")


def video_packets(path: Path) -> list[tuple[int, int]]:
    """(file offset, size) of each video packet."""
    with av.open(str(path)) as container:
        return [(packet.pos, packet.size) for packet in container.demux(container.streams.video[0]) if packet.size]


# -- broken containers ------------------------------------------------------------------------

def make_random_bytes(folder: Path) -> Path:
    path = folder / "random.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(20000))
    return path


def make_zero_bytes(folder: Path) -> Path:
    path = folder / "zero.mp4"
    path.write_bytes(b"")
    return path


def make_moov_missing(folder: Path) -> Path:
    """A progressive MP4 cut just before its moov box (a recording that never finished)."""
    source = make_clip(folder / "moov-source.mp4", frames=10).path
    data = source.read_bytes()
    source.unlink()
    offset, _ = find_box(data, b"moov")
    assert find_box(data, b"mdat")[0] < offset, "the moov box is expected after the media data"
    path = folder / "moov-missing.mp4"
    path.write_bytes(data[:offset])
    return path


def make_mdat_cut(folder: Path) -> Path:
    """An MP4 with the index first (faststart) cut inside its media data: the index
    promises 10 frames, the file holds 3/4 of the bytes (the last packet cut short)."""
    source = folder / "mdat-source.mp4"
    make_clip(source, frames=10)
    path = folder / "mdat-cut.mp4"
    faststart(source, path)
    source.unlink()
    data = path.read_bytes()
    offset, size = find_box(data, b"mdat")
    assert find_box(data, b"moov")[0] < offset
    path.write_bytes(data[:offset + size * 3 // 4])
    return path


def faststart(source: Path, target: Path) -> None:
    """Rewrite an MP4 with the moov box before the media data (ffmpeg's faststart)."""
    with av.open(str(source)) as src, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)


def make_corrupt_packets(folder: Path, name: str = "corrupt-packets.mp4", frames: int = 10,
                         damaged: tuple[int, ...] = (4, 5)) -> Path:
    """A valid MP4 whose video packets ``damaged`` (0-based) are overwritten with 0xFF bytes:
    the H.264 decoder rejects each one (an impossible NAL size) and the frames after them
    still decode (with the reference picture missing, as after any damage)."""
    path = make_clip(folder / name, frames=frames).path
    data = bytearray(path.read_bytes())
    packets = video_packets(path)
    for index in damaged:
        offset, size = packets[index]
        data[offset:offset + size] = b"\xff" * size
    path.write_bytes(bytes(data))
    return path


def make_zero_duration(folder: Path) -> Path:
    """A valid 10-frame MP4 whose mvhd, tkhd and mdhd durations are patched to 0."""
    path = make_clip(folder / "zero-duration.mp4", frames=10).path
    data = bytearray(path.read_bytes())
    # offset of the duration field from the box start, for box version 0 and 1
    fields = {b"mvhd": ((24, 4), (32, 8)), b"mdhd": ((24, 4), (32, 8)), b"tkhd": ((28, 4), (36, 8))}
    patched = 0
    for box, offset, _, _ in list(mp4_boxes(bytes(data))):
        if box in fields:
            at, width = fields[box][data[offset + 8]]
            data[offset + at:offset + at + width] = bytes(width)
            patched += 1
    assert patched == 3
    path.write_bytes(bytes(data))
    return path


def make_huge_header_h264(folder: Path, size: int = 16384) -> Path:
    """A valid H.264 MP4 (64x48 in its SPS) whose track header (tkhd) and sample entry
    (stsd/avc1) claim ``size`` x ``size``: the container lies, the bitstream does not."""
    path = make_clip(folder / "huge-header.mp4", frames=6).path
    data = bytearray(path.read_bytes())
    for box, offset, _, _ in list(mp4_boxes(bytes(data))):
        if box == b"tkhd":
            version = data[offset + 8]
            at = offset + (84 if version == 0 else 96)      # width, height: 16.16 fixed point
            data[at:at + 8] = struct.pack(">II", size << 16, size << 16)
        elif box == b"avc1":
            data[offset + 32:offset + 36] = struct.pack(">HH", size, size)
    path.write_bytes(bytes(data))
    return path


def make_huge_mjpeg(folder: Path, size: int = 16384, frames: int = 3) -> Path:
    """A Motion-JPEG MOV (a codec that stores the picture size plainly in each frame) whose
    frames' SOF headers and the sample entry (stsd/jpeg) claim ``size`` x ``size``; the
    scan data is that of a 64x48 picture, so a decoder that believes the header would
    allocate a 16384x16384 picture (768 MiB in 4:2:0) per frame."""
    path = folder / "huge-mjpeg.mov"
    _write_frames(path, "mjpeg", "yuvj420p", 64, 48, frames, options={"q:v": "5"})
    data = bytearray(path.read_bytes())
    patched = 0
    for offset, length in video_packets(path):
        frame = data[offset:offset + length]
        at = frame.find(b"\xff\xc0")                 # SOF0: length(2) precision(1) height(2) width(2)
        assert at >= 0, "no SOF0 marker"
        frame[at + 5:at + 9] = struct.pack(">HH", size, size)
        data[offset:offset + length] = frame
        patched += 1
    for box, offset, _, _ in list(mp4_boxes(bytes(data))):
        if box in (b"jpeg", b"mjpa"):
            data[offset + 32:offset + 36] = struct.pack(">HH", size, size)
        elif box == b"tkhd":
            version = data[offset + 8]
            at = offset + (84 if version == 0 else 96)
            data[at:at + 8] = struct.pack(">II", size << 16, size << 16)
    assert patched == frames
    path.write_bytes(bytes(data))
    return path


# -- unusual but valid video ------------------------------------------------------------------

def _write_frames(path: Path, codec: str, pix_fmt: str, width: int, height: int, frames: int,
                  rate: int = 25, options: dict | None = None, start: int = 0) -> Path:
    """``frames`` frames of a moving texture in ``codec``/``pix_fmt``, pts from ``start``."""
    background = texture(height + 8 * frames, width + 8 * frames, seed=5)
    with av.open(str(path), "w") as output:
        stream = output.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for index in range(frames):
            image = np.ascontiguousarray(background[2 * index:2 * index + height, 3 * index:3 * index + width])
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            frame.pts = start + index
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def _write_still(path: Path, codec: str, pix_fmt: str) -> Path:
    """One 64x48 picture through the image2 muxer."""
    with av.open(str(path), "w", format="image2") as output:
        stream = output.add_stream(codec)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        frame = av.VideoFrame.from_ndarray(texture(48, 64, seed=2), format="rgb24").reformat(format=pix_fmt)
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def make_still_png(folder: Path) -> Path:
    return _write_still(folder / "still.png", "png", "rgb24")


def make_still_jpeg(folder: Path) -> Path:
    return _write_still(folder / "still.jpg", "mjpeg", "yuvj420p")


def make_interlaced(folder: Path) -> Path:
    """H.264 coded as interlaced fields (PAFF/MBAFF, top field first)."""
    return _write_frames(folder / "interlaced.mp4", "libx264", "yuv420p", 64, 48, 10,
                         options={"preset": "ultrafast", "x264-params": "interlaced=1:tff=1"})


def make_size_change(folder: Path) -> Path:
    """MPEG-TS whose picture size changes mid-stream: two H.264 segments (64x48, then
    32x24 with the timestamps going on, each with its own SPS) joined byte for byte, as
    TS allows."""
    first = _write_frames(folder / "size-a.ts", "libx264", "yuv420p", 64, 48, 6, options={"preset": "ultrafast"})
    second = _write_frames(folder / "size-b.ts", "libx264", "yuv420p", 32, 24, 6, options={"preset": "ultrafast"},
                           start=6)
    path = folder / "size-change.ts"
    path.write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()
    return path


def make_sized(folder: Path, width: int, height: int, frames: int = 10) -> Path:
    """H.264 at any size (odd sizes in 4:4:4, which has no chroma subsampling to round)."""
    pix_fmt = "yuv444p" if width % 2 or height % 2 else "yuv420p"
    return _write_frames(folder / f"size-{width}x{height}.mp4", "libx264", pix_fmt, width, height, frames,
                         options={"preset": "ultrafast", "crf": "10"})


def make_format(folder: Path, pix_fmt: str) -> Path:
    bits = 10 if "10" in pix_fmt else 8
    return make_clip(folder / f"{pix_fmt}.mp4", frames=10, bit_depth=bits, pix_fmt=pix_fmt).path


# -- an H.264 SPS that lies about the picture size ----------------------------------------------

class _Bits:
    """Big-endian bit reader/writer for the H.264 exp-Golomb fields."""

    def __init__(self, data: bytes = b""):
        self.bits = "".join(f"{byte:08b}" for byte in data)
        self.at = 0

    def u(self, count: int) -> int:
        value = int(self.bits[self.at:self.at + count] or "0", 2)
        self.at += count
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bits[self.at + zeros] == "0":
            zeros += 1
        value = int(self.bits[self.at + zeros:self.at + 2 * zeros + 1], 2) - 1
        self.at += 2 * zeros + 1
        return value


def _ue(value: int) -> str:
    code = f"{value + 1:b}"
    return "0" * (len(code) - 1) + code


def _unescape(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def _escape(rbsp: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def patch_sps_size(sps: bytes, width: int, height: int) -> bytes:
    """An SPS NAL unit (header byte included) with its picture size set to width x height
    (multiples of 16, progressive): the two exp-Golomb size fields are re-coded, the
    cropping removed, every other bit kept."""
    bits = _Bits(_unescape(sps))
    bits.u(8)                                           # NAL header
    profile = bits.u(8)
    bits.u(16)                                          # constraint flags, level
    bits.ue()                                           # seq_parameter_set_id
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        if bits.ue() == 3:                              # chroma_format_idc
            bits.u(1)
        bits.ue(), bits.ue()                            # bit depths
        bits.u(1)
        assert bits.u(1) == 0, "scaling matrices are not handled"
    bits.ue()                                           # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.ue(), bits.ue()
        for _ in range(bits.ue()):
            bits.ue()
    bits.ue()                                           # max_num_ref_frames
    bits.u(1)                                           # gaps allowed
    head = bits.bits[:bits.at]
    bits.ue(), bits.ue()                                # the size, in macroblocks
    frame_mbs_only = bits.u(1)
    assert frame_mbs_only == 1, "progressive streams only"
    direct = bits.u(1)
    if bits.u(1):                                       # frame cropping
        for _ in range(4):
            bits.ue()
    tail = bits.bits[bits.at:]
    new = head + _ue(width // 16 - 1) + _ue(height // 16 - 1) + "1" + str(direct) + "0" + tail
    stop = new.rstrip("0")                              # the rbsp stop bit ends the payload
    new = stop + "0" * (-len(stop) % 8)
    return _escape(int(new, 2).to_bytes(len(new) // 8, "big"))


def make_huge_sps(folder: Path, width: int = 8192, height: int = 8192) -> Path:
    """A 64x48 H.264 MP4 whose SPS (in the avcC box) and track header claim ``width`` x
    ``height``: the decoder believes the SPS, allocates the large picture and conceals the
    macroblocks the slices do not cover."""
    path = make_clip(folder / f"huge-sps-{width}x{height}.mp4", frames=4).path
    data = path.read_bytes()
    boxes = list(mp4_boxes(data))
    offset, size = next((o, s) for box, o, s, _ in boxes if box == b"avc1")
    at = offset + 86                                     # sample entry fields end; child boxes follow
    avcc_at = None
    while at < offset + size:
        child_size, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"avcC":
            avcc_at = at
            break
        at += child_size
    assert avcc_at is not None, "no avcC box"
    avcc_size = struct.unpack(">I", data[avcc_at:avcc_at + 4])[0]
    payload = bytearray(data[avcc_at + 8:avcc_at + avcc_size])
    assert payload[5] & 0x1F == 1, "one SPS expected"
    sps_length = struct.unpack(">H", payload[6:8])[0]
    sps = patch_sps_size(bytes(payload[8:8 + sps_length]), width, height)
    payload[6:8 + sps_length] = struct.pack(">H", len(sps)) + sps
    delta = len(payload) + 8 - avcc_size
    out = bytearray(data[:avcc_at] + struct.pack(">I4s", len(payload) + 8, b"avcC") + payload
                    + data[avcc_at + avcc_size:])
    for box, box_offset, box_size, _ in boxes:            # every box around avcC grows by delta
        if box_offset < avcc_at < box_offset + box_size:
            assert struct.unpack(">I", data[box_offset:box_offset + 4])[0] == box_size, "64-bit box size"
            out[box_offset:box_offset + 4] = struct.pack(">I", box_size + delta)
        if box == b"mdat":
            assert box_offset < avcc_at, "the moov box is expected after the media data"
        if box == b"tkhd":
            version = data[box_offset + 8]
            field = box_offset + (84 if version == 0 else 96)
            out[field:field + 8] = struct.pack(">II", width << 16, height << 16)
    for box, box_offset, _, _ in mp4_boxes(bytes(out)):
        if box == b"avc1":
            out[box_offset + 32:box_offset + 36] = struct.pack(">HH", width, height)
    path.write_bytes(bytes(out))
    return path


# name -> (maker, expected): expected is "ok" (valid output) or the cause the one-line error names
CORPUS = {
    "zero-bytes": (make_zero_bytes, "empty file"),
    "random-bytes": (make_random_bytes, "not a video file"),
    "moov-missing": (make_moov_missing, "not a video file"),
    "mdat-cut": (make_mdat_cut, "ok"),
    "corrupt-packets": (make_corrupt_packets, "ok"),
    "audio-only": (lambda folder: make_audio_only(folder / "audio-only.m4a"), "no video stream"),
    "still-png": (make_still_png, "ok"),
    "still-jpeg": (make_still_jpeg, "ok"),
    "1x1": (lambda folder: make_sized(folder, 1, 1), "ok"),
    "2x2": (lambda folder: make_sized(folder, 2, 2), "ok"),
    "4097x17": (lambda folder: make_sized(folder, 4097, 17, frames=4), "ok"),
    "641x359": (lambda folder: make_sized(folder, 641, 359, frames=4), "ok"),
    "10bit-420": (lambda folder: make_format(folder, "yuv420p10le"), "ok"),
    "10bit-422": (lambda folder: make_format(folder, "yuv422p10le"), "ok"),
    "444": (lambda folder: make_format(folder, "yuv444p"), "ok"),
    "vfr": (lambda folder: make_clip(folder / "vfr.mp4", frames=10, vfr=True).path, "ok"),
    "rotation": (lambda folder: make_clip(folder / "rotated.mp4", frames=10, rotation=90).path, "ok"),
    "interlaced": (make_interlaced, "ok"),
    "huge-header-h264": (make_huge_header_h264, "ok"),
    "huge-mjpeg": (make_huge_mjpeg, "no decodable video frames"),
    "huge-sps": (make_huge_sps, "frame size 8192x8192 is larger than"),
    "size-change": (make_size_change, "ok"),
    "zero-frames": (lambda folder: make_zero_frames(folder / "zero-frames.mp4"), "no decodable video frames"),
    "zero-duration": (make_zero_duration, "ok"),
    "unsupported-codec": (lambda folder: make_unsupported_codec(folder / "unknown.mkv"), "unsupported video codec"),
}


# -- the fuzz target -----------------------------------------------------------------------------

def decode_everything(path: str) -> None:
    """The input path of both commands on ``path``: probe, then the export's decoder (RGB,
    deep when 10-bit) to the end, then the player's source (RGB and RGBA) for a few frames
    and a seek. A clean InputError is a fine answer; anything else escapes (the fork
    runner prints its traceback and exits 1)."""
    from fmsmi.player.live.source import SeekableSource
    from fmsmi.player.media import VideoDecoder, probe

    from fmsmi.errors import InputError

    try:
        info = probe(path)
        with VideoDecoder(path, deep=True, info=info) as decoder:
            for frame in decoder:
                assert frame.image.shape == (info.height, info.width, 3), frame.image.shape
        with SeekableSource(path, info=info) as source:
            for count, (frame, pts) in enumerate(source.decoded()):
                assert source.to_rgba(frame).shape == (info.height, info.width, 4)
                if count == 3:
                    break
            for frame, pts in source.decoded(info.start_pts + 3 * info.nominal_step):
                source.to_rgb(frame)
                break
    except InputError:
        pass
