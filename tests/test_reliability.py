"""Bad input never crashes, hangs or leaves a partial OUTPUT: the corpus of tests/corpus.py
through `fmsmi interpolate` and `fmsmi play --duration 2`, and decoding past damaged packets.

Every corpus file runs through both commands as its own process (tests/forkrun.py: forked
from a server that imported torch once, so a run starts in milliseconds; each is killed at
its time limit). Each run either succeeds with a valid result or exits 2 with one line on
stderr (log warnings aside); never a traceback, never a time-out, never a stray file.
One case also runs as a plain `python -m fmsmi.player.cli` process, to keep the harness honest.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from corpus import CORPUS, make_corrupt_packets, make_mdat_cut
from display_env import DISPLAY_VARIABLES, open_display
from fmsmi.player.media import VideoDecoder, probe
from forkrun import PRELOAD, TIME_LIMIT, ForkServer, Job, child_env, error_lines
from media import make_clip, read_video

# damaged packets each corpus file has: the ones corrupt-packets overwrote, the packet the
# mdat cut cuts short, the TS packet the demuxer flags where the two size-change segments join
DAMAGED = {"corrupt-packets": 2, "mdat-cut": 1, "size-change": 1}


def check_clean_failure(result, command: str, path: Path, cause: str) -> None:
    lines = error_lines(result.stderr)
    assert result.returncode == 2, result.describe()
    assert len(lines) == 1, result.describe()
    assert lines[0].startswith(f"fmsmi {command}: error: {path}"), result.describe()
    assert cause in lines[0], result.describe()


@pytest.fixture(scope="module")
def display():
    _, stop = open_display()
    yield {name: os.environ[name] for name in DISPLAY_VARIABLES if name in os.environ}
    stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    return {name: make(folder) for name, (make, _) in CORPUS.items()}


@pytest.fixture(scope="module")
def server():
    with ForkServer(PRELOAD, env=child_env()) as server:
        yield server


@pytest.fixture(scope="module")
def interpolated(corpus, server, tmp_path_factory) -> dict:
    """name -> (result, output folder): `fmsmi interpolate FILE OUT.mkv` for every corpus file."""
    root = tmp_path_factory.mktemp("interpolated")
    jobs, folders = [], {}
    for name, path in corpus.items():
        folders[name] = root / name
        folders[name].mkdir()
        jobs.append(Job(["interpolate", str(path), str(folders[name] / "out.mkv"), "--crf", "30"],
                        cwd=folders[name], timeout=TIME_LIMIT, label=f"interpolate {name}"))
    results = server.run(jobs, parallel=2)
    return {name: (result, folders[name]) for name, result in zip(corpus, results)}


@pytest.fixture(scope="module")
def played(corpus, server, display, tmp_path_factory) -> dict:
    """name -> (result, stats path): `fmsmi play FILE --duration 2 --stats S.json` under the test display."""
    root = tmp_path_factory.mktemp("played")
    jobs, stats = [], {}
    for name, path in corpus.items():
        stats[name] = root / f"{name}.json"
        jobs.append(Job(["play", str(path), "--duration", "2", "--stats", str(stats[name])], cwd=root,
                        timeout=TIME_LIMIT, env=display, label=f"play {name}"))
    results = server.run(jobs, parallel=3)       # playback waits on its clock: a third run fits in
    return {name: (result, stats[name]) for name, result in zip(corpus, results)}


def test_the_corpus_is_what_it_claims(corpus):
    """The generated files have the property each case is named after."""
    def first_frames(name, count=3):
        with av.open(str(corpus[name])) as container:
            stream = container.streams.video[0]
            frames = []
            for frame in container.decode(stream):
                frames.append(frame)
                if len(frames) == count:
                    break
            return stream, container.duration, frames

    for name, pix_fmt in [("10bit-420", "yuv420p10le"), ("10bit-422", "yuv422p10le"), ("444", "yuv444p")]:
        assert first_frames(name)[2][0].format.name == pix_fmt
    assert all(frame.interlaced_frame for frame in first_frames("interlaced")[2])
    assert first_frames("rotation")[2][0].rotation in (90, -90)
    pts = [frame.pts for frame in first_frames("vfr", 6)[2]]
    assert len({b - a for a, b in itertools.pairwise(pts)}) > 1
    for name, size in [("1x1", (1, 1)), ("2x2", (2, 2)), ("4097x17", (4097, 17)), ("641x359", (641, 359))]:
        frame = first_frames(name)[2][0]
        assert (frame.width, frame.height) == size
    stream, duration, frames = first_frames("zero-duration")
    assert not duration and not stream.duration and len(frames) == 3
    stream, _, frames = first_frames("huge-sps")
    assert (stream.codec_context.width, frames[0].width, frames[0].height) == (8192, 8192, 8192)
    header = corpus["huge-header-h264"].read_bytes()
    assert header.count((16384 << 16).to_bytes(4, "big") * 2) == 1          # tkhd width, height
    _, _, frames = first_frames("huge-header-h264")
    assert (frames[0].width, frames[0].height) == (64, 48)                  # the SPS tells the truth
    assert b"\xff\xc0\x00\x11\x08\x40\x00\x40\x00" in corpus["huge-mjpeg"].read_bytes()   # SOF0 16384x16384
    with av.open(str(corpus["size-change"])) as container:
        sizes = {(frame.width, frame.height) for frame in container.decode(video=0)}
    assert sizes == {(64, 48), (32, 24)}


# -- the corpus through both commands ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CORPUS))
def test_interpolate(name, corpus, interpolated):
    result, folder = interpolated[name]
    expected = CORPUS[name][1]
    assert not result.timed_out, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    output = folder / "out.mkv"
    if expected != "ok":
        check_clean_failure(result, "interpolate", corpus[name], expected)
        assert list(folder.iterdir()) == [], "a failed run left files behind"
        return
    assert result.returncode == 0, result.describe()
    assert [p.name for p in folder.iterdir()] == ["out.mkv"], "stray files beside the output"
    summary = error_lines(result.stderr)[-1]
    match = re.search(r"(\d+) -> (\d+) frames.*, (\d+) damaged packet\(s\) skipped", summary)
    assert match, summary
    frames_in, frames_out, damaged = map(int, match.groups())
    info = probe(corpus[name])
    out = read_video(output, images=False)
    assert frames_out == 2 * frames_in == out.frames, summary
    assert (out.width, out.height) == (info.width, info.height)
    assert damaged == DAMAGED.get(name, 0), summary


@pytest.mark.display
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_play(name, corpus, played):
    result, stats_path = played[name]
    expected = CORPUS[name][1]
    assert not result.timed_out, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    if expected != "ok":
        check_clean_failure(result, "play", corpus[name], expected)
        assert not stats_path.exists()
        return
    assert result.returncode == 0, result.describe()
    stats = json.loads(stats_path.read_text())
    assert stats["frames_shown"] >= 1 and stats["frames_target"] >= stats["frames_shown"], stats
    assert stats["media_seconds_played"] <= 2.0 + 0.1, stats
    damaged = DAMAGED.get(name, 0)
    assert stats["damaged_packets"] == damaged, stats
    lines = error_lines(result.stderr)
    if damaged:     # reported at the end even without --verbose
        assert lines == [f"fmsmi play: {corpus[name]}: {damaged} damaged video packet(s) skipped"], lines
    else:
        assert lines == [], result.describe()


@pytest.mark.parametrize("name", ["corrupt-packets"])
def test_plain_process_agrees_with_the_fork_runner(name, corpus, interpolated, tmp_path):
    """The same command as an ordinary process: same exit status, same last line."""
    proc = subprocess.run([sys.executable, "-m", "fmsmi.player.cli", "interpolate", str(corpus[name]),
                           str(tmp_path / "out.mkv"), "--crf", "30"], capture_output=True, text=True, check=False,
                          timeout=TIME_LIMIT, env={**os.environ, **child_env()}, cwd=tmp_path)
    forked, _ = interpolated[name]
    assert proc.returncode == forked.returncode, proc.stderr
    last = lambda text: re.sub(r"[\d.]+ (s|fps|ms)|ms per frame.*|/\S+", "", error_lines(text)[-1])
    assert last(proc.stderr) == last(forked.stderr)


# -- decoding past damaged packets (the feature behind the counts above) -----------------------

def test_decoder_goes_on_past_damaged_packets(tmp_path):
    path = make_corrupt_packets(tmp_path, frames=12, damaged=(3, 7, 8))
    clean = make_clip(tmp_path / "clean.mp4", frames=12)
    with VideoDecoder(path) as decoder:
        frames = list(decoder)
    assert decoder.damaged_packets == 3
    assert len(frames) == 9                      # every packet but the damaged ones gives a frame
    assert [f.pts for f in frames] == sorted({f.pts for f in frames})
    with VideoDecoder(clean.path) as reference_decoder:
        reference = {f.pts: f.image for f in reference_decoder}
    # frames before the first damage are exact; after it they decode (with a lost reference)
    assert all(np.array_equal(f.image, reference[f.pts]) for f in frames[:3])


def test_player_source_counts_damaged_packets(tmp_path):
    from fmsmi.player.live.source import SeekableSource
    path = make_corrupt_packets(tmp_path)
    with SeekableSource(path) as source:
        assert len(list(source.frames())) == 8
        assert source.damaged_packets == 2


def test_export_reports_the_count(tmp_path):
    import torch
    from fmsmi.player.export import ExportConfig, export

    class Average:
        device = torch.device("cpu")

        def interpolate_tensor(self, frame0, frame1):
            return (frame0 + frame1) / 2

    path = make_corrupt_packets(tmp_path)
    result = export(ExportConfig(input=path, output=tmp_path / "out.mp4"), progress=False, interpolator=Average())
    assert result.damaged_packets == 2 and result.input_frames == 8 and result.output_frames == 16


def test_truncated_index_is_a_shorter_stream(tmp_path):
    """mdat cut: the index promises 10 frames; the cut packet counts as damaged, the rest decode."""
    path = make_mdat_cut(tmp_path)
    with av.open(str(path)) as container:
        promised = container.streams.video[0].frames
    with VideoDecoder(path) as decoder:
        frames = list(decoder)
    assert promised == 10 and 1 <= len(frames) < 10 and decoder.damaged_packets == 1


class _FailingDemux:
    """A container whose demuxer fails with a read error after ``good`` packets."""

    def __init__(self, container, good: int):
        self.container, self.good = container, good

    def demux(self, stream):
        for index, packet in enumerate(self.container.demux(stream)):
            if index == self.good:
                raise av.error.OSError(5, "Input/output error")
            yield packet


def test_read_error_mid_stream_ends_the_stream_like_ffmpeg(tmp_path, caplog):
    clip = make_clip(tmp_path / "in.mp4", frames=10)
    decoder = VideoDecoder(clip.path)
    decoder._container = _FailingDemux(decoder._container, good=6)
    with caplog.at_level("WARNING", logger="fmsmi.player.media.decode"):
        frames = list(decoder)
    decoder._container.container.close()
    assert len(frames) == 6
    assert decoder.damage.read_error == "Input/output error"
    assert any("ends early after 6 frame(s)" in r.getMessage() for r in caplog.records)
