"""`fmsmi interpolate` and the media layer on generated clips (tests/media.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fmsmi.errors import ConfigError, InputError
from fmsmi.player import cli
from fmsmi.player.export import ExportConfig, export
from fmsmi.player.media import EncodeSettings, SceneCutDetector, VideoDecoder, probe
from media import (
    audio_packets,
    make_audio_only,
    make_clip,
    make_unsupported_codec,
    make_zero_frames,
    read_video,
)


@pytest.fixture(scope="module")
def interpolator():
    from fmsmi.engine import Interpolator
    return Interpolator("lite", backend="cpu", threads=1)


def run_export(clip_path: Path, output: Path, interpolator, **options):
    """Export with a high-quality encode (tiny noisy frames lose ~6 levels at the default crf 18)."""
    options.setdefault("encode", EncodeSettings(crf=8, preset="ultrafast"))
    return export(ExportConfig(input=clip_path, output=output, **options), progress=False, interpolator=interpolator)


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# -- the main job ---------------------------------------------------------------------------

def test_25fps_with_audio_becomes_50fps(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=12, rate=25, audio=True)
    result = run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4")
    assert result.input_frames == 12 and result.output_frames == 24 == out.frames
    assert result.interpolated_frames == 11
    assert out.rate == 50
    assert out.seconds == pytest.approx([k / 50 for k in range(24)], abs=1e-3)
    assert abs(out.duration - clip.duration) <= 1 / 50 + 1e-6
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(clip.path)   # copied, not re-encoded
    assert leftovers(tmp_path, {"in.mp4", "out.mp4"}) == []


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_frames_in_order_originals_kept(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=4, speed=6)
    run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4").images
    source = read_video(clip.path).images
    for k in range(4):
        distances = [_distance(out[2 * k], image) for image in source]
        assert int(np.argmin(distances)) == k and distances[k] < 4.0, (k, distances)
    blends = [(source[k].astype(np.float32) + source[k + 1]) / 2 for k in range(3)]
    for k in range(3):   # each middle frame sits between its own two frames, not others
        distances = [_distance(out[2 * k + 1], blend) for blend in blends]
        assert int(np.argmin(distances)) == k and distances[k] < 8.0, (k, distances)


def _yuv_planes(path: Path) -> list[np.ndarray]:
    import av
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]   # yuv420p: (H*3/2, W)


def test_original_frames_reach_the_encoder_untouched(tmp_path, interpolator):
    """Original frames skip the RGB round trip: with a lossless encode (x264 crf 0, 8-bit)
    they come out bit-identical to the source's YUV planes, which 4:2:0 chroma and matrix
    rounding through RGB would not give."""
    clip = make_clip(tmp_path / "in.mp4", frames=6, speed=5)
    run_export(clip.path, tmp_path / "out.mp4", interpolator, encode=EncodeSettings(crf=0, preset="ultrafast"))
    source, out = _yuv_planes(clip.path), _yuv_planes(tmp_path / "out.mp4")
    assert len(out) == 2 * len(source)
    for k, planes in enumerate(source):
        assert np.array_equal(out[2 * k], planes), f"original frame {k} changed"


def test_synthesized_frames_written_as_planes_equal_the_rgb_path(tmp_path, interpolator, monkeypatch):
    """Synthesized frames go straight into the 4:2:0 planes (pixels.yuv420p_u8) instead of
    RGB bytes + swscale: with a lossless encode the two ways agree to a code of luma and, on
    average, within a code of chroma (0.5 on this textured clip: swscale filters chroma
    differently); the originals are untouched either way."""
    from fmsmi.engine.op import pixels
    if pixels.yuv_unavailable_reason() is not None:
        pytest.skip(f"native YUV writer: {pixels.yuv_unavailable_reason()}")
    clip = make_clip(tmp_path / "in.mp4", frames=4, speed=5)
    lossless = EncodeSettings(crf=0, preset="ultrafast")
    run_export(clip.path, tmp_path / "planes.mp4", interpolator, encode=lossless)
    monkeypatch.setattr(pixels, "yuv_unavailable_reason", lambda: "disabled by the test")
    run_export(clip.path, tmp_path / "rgb.mp4", interpolator, encode=lossless)
    planes, rgb = _yuv_planes(tmp_path / "planes.mp4"), _yuv_planes(tmp_path / "rgb.mp4")
    height = clip.height
    assert len(planes) == len(rgb) == 8
    for k in range(0, 8, 2):
        assert np.array_equal(planes[k], rgb[k])
    for k in (1, 3, 5):
        luma = np.abs(planes[k][:height].astype(int) - rgb[k][:height])
        chroma = np.abs(planes[k][height:].astype(int) - rgb[k][height:])
        assert luma.max() <= 1 and chroma.mean() < 1.0, (k, luma.max(), chroma.mean())


def test_moving_square_midpoint(tmp_path, interpolator):
    """The new frame is the engine's middle frame of its two neighbours (up to the encode),
    not a copy of either."""
    clip = make_clip(tmp_path / "in.mp4", frames=3, speed=8)
    run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4").images
    source = read_video(clip.path).images
    middle = interpolator.interpolate(source[0], source[1])
    square = (slice(12, 44), slice(0, 40))      # rows and columns the square crosses
    to_middle = _distance(out[1][square], middle[square])
    assert to_middle < 3.0
    assert to_middle < 0.5 * min(_distance(out[1][square], source[0][square]),
                                 _distance(out[1][square], source[1][square]))


def test_factor_4_by_recursion(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=5, rate=25)
    result = run_export(clip.path, tmp_path / "out.mkv", interpolator, factor=4)
    out = read_video(tmp_path / "out.mkv", images=False)
    assert out.frames == result.output_frames == 20
    assert result.interpolated_frames == 4 * 3
    assert out.rate == 100
    assert out.seconds == pytest.approx([k / 100 for k in range(20)], abs=1.5e-3)   # mkv: 1 ms ticks


def test_vfr_timestamps_at_midpoints(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=7, vfr=True)
    run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4", images=False)
    source = [float(p * clip.time_base) for p in clip.pts]
    expected = []
    for t0, t1 in itertools.pairwise(source):
        expected += [t0, (t0 + t1) / 2]
    last = source[-1] - source[-2]
    expected += [source[-1], source[-1] + last / 2]
    assert out.seconds == pytest.approx(expected, abs=1e-4)


def test_10bit_kept(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=4, bit_depth=10)
    assert probe(clip.path).bit_depth == 10
    run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4")
    assert out.pix_fmt == "yuv420p10le" and out.frames == 8
    with VideoDecoder(tmp_path / "out.mp4", deep=True) as decoder:
        first = next(iter(decoder)).image
    with VideoDecoder(clip.path, deep=True) as decoder:
        source = next(iter(decoder)).image
    assert first.dtype == source.dtype == np.uint16
    assert np.abs(first.astype(int) - source).mean() < 3 * 257
    assert len(np.unique(first[..., 1] % 257)) > 16    # more than 8 bits of information survive


@pytest.mark.parametrize("size", [(65, 49), (33, 17)])
def test_odd_sizes(tmp_path, interpolator, size):
    width, height = size
    clip = make_clip(tmp_path / "in.mp4", width=width, height=height, frames=4)
    run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4")
    assert (out.width, out.height, out.frames) == (width, height, 8)
    assert _distance(out.images[0], read_video(clip.path).images[0]) < 3.0


def test_colour_tags_and_rotation_kept(tmp_path, interpolator):
    bt709_full = (1, 2, 1, 1)     # colorspace, range, primaries, trc
    clip = make_clip(tmp_path / "in.mp4", frames=3, colour=bt709_full, rotation=90)
    run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4")
    assert out.colour == bt709_full and out.rotation == 90
    assert _distance(out.images[0], read_video(clip.path).images[0]) < 3.0


def test_scene_cut_repeats_earlier_frame(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=6, cut_at=3)
    result = run_export(clip.path, tmp_path / "out.mp4", interpolator)
    assert result.scene_cuts == 1 and result.interpolated_frames == 4
    out = read_video(tmp_path / "out.mp4").images
    assert np.abs(out[5].astype(int) - out[4].astype(int)).mean() < 2.0      # repeated, not blended
    assert np.abs(out[5].astype(int) - out[6].astype(int)).mean() > 20.0


# -- decoding colour ----------------------------------------------------------------------

@pytest.mark.parametrize("colour", [(5, 1, 5, 6), (1, 1, 1, 1), (1, 2, 1, 1), (6, 2, 6, 6)],
                         ids=["601-limited", "709-limited", "709-full", "601-full"])
def test_decode_converts_with_source_matrix_and_range(tmp_path, colour):
    clip = make_clip(tmp_path / "in.mp4", frames=1, colour=colour, pix_fmt="yuv444p")
    with VideoDecoder(clip.path) as decoder:
        frame = next(iter(decoder))
    assert frame.image.dtype == np.uint8 and frame.pts == 0
    assert np.abs(frame.image.astype(int) - clip.images[0].astype(int)).mean() < 1.5


@pytest.mark.parametrize("colour", [(1, 1, 1, 1), (5, 2, 5, 6)], ids=["709-limited", "601-full"])
def test_decode_10bit_deep_and_8bit(tmp_path, colour):
    clip = make_clip(tmp_path / "in.mp4", frames=1, colour=colour, bit_depth=10, pix_fmt="yuv444p10le")
    with VideoDecoder(clip.path, deep=True) as decoder:
        deep = next(iter(decoder)).image
    with VideoDecoder(clip.path) as decoder:
        shallow = next(iter(decoder)).image
    assert deep.dtype == np.uint16 and shallow.dtype == np.uint8
    assert np.abs(deep / 257.0 - clip.images[0]).mean() < 1.5
    assert np.abs(shallow.astype(int) - clip.images[0]).mean() < 1.5


def test_decode_does_not_import_torch():
    code = "import sys, fmsmi.player.media; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scene_detector_scores():
    detector = SceneCutDetector(0.2)
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (90, 160, 3), dtype=np.uint8) for _ in range(2))
    assert not detector.is_cut(a)
    assert not detector.is_cut(a)
    assert detector.is_cut(b)
    with pytest.raises(ConfigError, match="scene_threshold"):
        SceneCutDetector(1.5)


# -- failures leave nothing ---------------------------------------------------------------

def test_interrupted_run_leaves_nothing(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=10, audio=True)

    def interrupt(written: int) -> None:
        if written >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(ExportConfig(input=clip.path, output=tmp_path / "out.mp4"), progress=False,
               on_frame=interrupt, interpolator=interpolator)
    assert leftovers(tmp_path, {"in.mp4"}) == []


def test_worker_exception_reaches_caller_and_leaves_nothing(tmp_path):
    class Broken:
        def interpolate_tensor(self, frame0, frame1):
            raise RuntimeError("inference exploded")

    clip = make_clip(tmp_path / "in.mp4", frames=5)
    with pytest.raises(RuntimeError, match="inference exploded"):
        export(ExportConfig(input=clip.path, output=tmp_path / "out.mp4"), progress=False, interpolator=Broken())
    assert leftovers(tmp_path, {"in.mp4"}) == []


def test_existing_output_survives_a_failed_run(tmp_path):
    (tmp_path / "out.mp4").write_bytes(b"previous")
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all" * 100)
    with pytest.raises(InputError):
        export(ExportConfig(input=tmp_path / "bad.mp4", output=tmp_path / "out.mp4"), progress=False)
    assert (tmp_path / "out.mp4").read_bytes() == b"previous"


# -- bad input: one line, exit 2 ------------------------------------------------------------

BAD_INPUTS = {
    "missing": (lambda p: p / "missing.mp4", "file not found"),
    "random-bytes": (lambda p: _write(p / "random.mp4", np.random.default_rng(0).bytes(30000)), "not a video"),
    "empty": (lambda p: _write(p / "empty.mp4", b""), "empty file"),
    "text": (lambda p: _write(p / "notes.mp4", b"hello, this is text\n" * 50), "not a video"),
    "audio-only": (lambda p: make_audio_only(p / "audio.m4a"), "no video stream"),
    "zero-frames": (lambda p: make_zero_frames(p / "zero.mp4"), "no decodable video frames"),
    "unsupported-codec": (lambda p: make_unsupported_codec(p / "unknown.mkv"), "unsupported video codec"),
    "directory": (lambda p: p, "is a directory"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exit_2_one_line(tmp_path, capsys, case):
    make, cause = BAD_INPUTS[case]
    folder = tmp_path / "in"
    folder.mkdir()
    bad = make(folder)
    output = tmp_path / "out.mp4"
    assert cli.main(["interpolate", str(bad), str(output)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(bad) in err[0] and cause in err[0]
    assert err[0].startswith("fmsmi interpolate: error: ")
    assert not output.exists() and leftovers(tmp_path, {"in"}) == []


def test_bad_input_subprocess_no_traceback(tmp_path):
    bad = _write(tmp_path / "random.mp4", np.random.default_rng(1).bytes(5000))
    proc = subprocess.run([sys.executable, "-m", "fmsmi.player.cli", "interpolate", str(bad), str(tmp_path / "o.mp4")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and str(bad) in proc.stderr
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("argv, message", [
    (["--factor", "3"], None),                       # argparse: exit 2 with usage
    (["--scene-threshold", "2"], "scene_threshold"),
    (["--codec", "nosuchcodec"], "codec='nosuchcodec'"),
    (["--preset", "nosuchpreset"], "the encoder refused them"),
    (["--workers", "0"], "workers=0"),
])
def test_bad_options(tmp_path, capsys, argv, message):
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    try:
        code = cli.main(["interpolate", str(clip.path), str(tmp_path / "out.mp4"), *argv])
    except SystemExit as exc:    # argparse
        code = exc.code
    assert code == 2
    if message:
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


def test_cli_writes_file(tmp_path, capsys):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio=True)
    assert cli.main(["interpolate", str(clip.path), str(tmp_path / "out.mkv"), "--threads", "1", "--crf", "20"]) == 0
    assert "3 -> 6 frames" in capsys.readouterr().err
    assert read_video(tmp_path / "out.mkv", images=False).frames == 6
    assert len(audio_packets(tmp_path / "out.mkv")) == len(audio_packets(clip.path))


def test_bundled_sample_is_found():
    from importlib import resources
    sample = resources.files("fmsmi.player").joinpath("data", "sample_bbb_360p.mp4")
    info = probe(Path(str(sample)))
    assert (info.width, info.height, info.rate) == (640, 360, Fraction(25))
    assert info.audio_streams == 1 and 45 <= info.frame_count <= 55


def test_sigint_stops_cleanly(tmp_path):
    import os
    import signal
    import time

    clip = make_clip(tmp_path / "in.mp4", frames=400)
    proc = subprocess.Popen([sys.executable, "-m", "fmsmi.player.cli", "interpolate", str(clip.path),
                             str(tmp_path / "out.mp4"), "--threads", "1", "-q"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.fmsmi-partial") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert leftovers(tmp_path, {"in.mp4"}) == []
    assert os.path.exists(clip.path)


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="needs the ffmpeg binary to add subtitles")
def test_subtitles_copied(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mp4", frames=12, audio=True)
    (tmp_path / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:00,200\nhello\n\n"
                                       "2\n00:00:00,200 --> 00:00:00,400\nworld\n")
    source = tmp_path / "in.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip.path), "-i", str(tmp_path / "subs.srt"),
                    "-map", "0", "-map", "1", "-c", "copy", "-c:s", "srt", str(source)], check=True)
    run_export(source, tmp_path / "out.mkv", interpolator)

    def subtitles(path):
        import av
        with av.open(str(path)) as container:
            stream = container.streams.subtitles[0]
            return [(bytes(p), float(p.pts * p.time_base)) for p in container.demux(stream) if p.size]

    assert subtitles(tmp_path / "out.mkv") == subtitles(source)
    assert audio_packets(tmp_path / "out.mkv") == audio_packets(source)


def test_parallel_workers_keep_order(tmp_path):
    import random
    import time

    import torch

    class Jittery:
        """Frame averaging that takes a random time: results arrive out of order."""
        device = torch.device("cpu")

        def interpolate_tensor(self, frame0, frame1):
            time.sleep(random.uniform(0, 0.02))
            return (frame0 + frame1) / 2

    clip = make_clip(tmp_path / "in.mp4", frames=12, speed=3)
    result = export(ExportConfig(input=clip.path, output=tmp_path / "out.mp4", workers=3, factor=4,
                                 encode=EncodeSettings(crf=8, preset="ultrafast")),
                    progress=False, interpolator=Jittery())
    assert result.workers == 3 and result.output_frames == 48
    out = read_video(tmp_path / "out.mp4")
    source = read_video(clip.path).images
    assert list(out.seconds) == sorted(out.seconds)
    for k in range(12):
        distances = [_distance(out.images[4 * k], image) for image in source]
        assert int(np.argmin(distances)) == k, (k, distances)


def test_rgb_source_becomes_tagged_yuv(tmp_path, interpolator):
    clip = make_clip(tmp_path / "in.mov", frames=3, codec="png", pix_fmt="rgb24")
    assert probe(clip.path).colour.is_rgb
    run_export(clip.path, tmp_path / "out.mp4", interpolator)
    out = read_video(tmp_path / "out.mp4")
    assert out.pix_fmt == "yuv420p" and out.colour[:2] == (6, 1)    # BT.601 (below 720 lines), limited
    assert _distance(out.images[0], clip.images[0]) < 6.0    # 4:2:0 chroma of the drawn RGB costs ~4
