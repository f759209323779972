"""`fmsmi bench` on a tiny generated clip: rows, ratios, JSON, plot, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from fmsmi.errors import ConfigError
from fmsmi.player import cli
from fmsmi.player.bench import (
    BenchConfig,
    bench,
    format_table,
    parse_size,
    prepare_clip,
    sample_clip,
)
from fmsmi.player.media import probe
from media import audio_packets, make_clip, read_video

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg binary")


@needs_ffmpeg
def test_bench_rows_and_ratios(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=6, audio=True)
    report = bench(BenchConfig(input=clip.path, threads=1))
    methods = [row["method"] for row in report["rows"]]
    assert methods == ["fmsmi cpu", "ffmpeg mci", "ffmpeg blend"]
    ours = report["rows"][0]
    assert len(ours["runs"]) == 3 and ours["seconds"] == sorted(ours["runs"])[1]
    assert ours["input_frames"] == 6 and ours["output_frames"] == 12 and ours["fps"] > 0
    assert set(ours["stage_ms"]) == {"decode", "convert", "inference", "encode"}
    for mode in ("mci", "blend"):
        other = next(row for row in report["rows"] if row["method"] == f"ffmpeg {mode}")
        assert ours["vs"][mode] == pytest.approx(other["seconds"] / ours["seconds"])
    table = format_table(report)
    assert "fmsmi cpu" in table and "vs mci" in table and "median of 3 interleaved runs" in table
    json.dumps(report)   # JSON-able


def test_rows_are_the_median_run():
    """Each method runs `repeat` times; its row is the run with the median seconds (stage
    times from that same run) and keeps every run's seconds."""
    from fmsmi.player.bench import Row, median_row
    runs = [Row("8x8", "fmsmi cpu", seconds, 4, 8, stage_ms={"inference": seconds * 10}) for seconds in (3.0, 1.0, 2.0)]
    row = median_row(runs)
    assert row.seconds == 2.0 and row.stage_ms == {"inference": 20.0} and row.runs == (3.0, 1.0, 2.0)
    assert median_row(runs[:2]).seconds == 1.0      # an even count: the lower middle run
    with pytest.raises(ConfigError, match="repeat=0"):
        BenchConfig(input=sample_clip(), repeat=0)


def test_bench_cli_json_plot_sizes(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    clip = make_clip(tmp_path / "in.mp4", frames=5)
    code = cli.main(["bench", str(clip.path), "--no-ffmpeg", "--size", "32x24", "--size", "48x36", "--frames", "4",
                     "--threads", "1", "--json", str(tmp_path / "b.json"), "--plot", str(tmp_path / "b.png")])
    assert code == 0
    out = capsys.readouterr().out
    assert "32x24" in out and "48x36" in out
    report = json.loads((tmp_path / "b.json").read_text())
    assert [row["size"] for row in report["rows"]] == ["32x24", "48x36"]
    assert all(row["input_frames"] == 4 for row in report["rows"])
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_prepare_clip_cuts_and_scales_with_audio(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=10, audio=True)
    path = prepare_clip(probe(clip.path), (32, 24), 5, tmp_path)
    facts = read_video(path, images=False)
    assert (facts.width, facts.height, facts.frames) == (32, 24, 5)
    packets = audio_packets(path)
    assert 0 < len(packets) < len(audio_packets(clip.path))


def test_bench_bad_input_and_size(tmp_path, capsys):
    assert cli.main(["bench", str(tmp_path / "missing.mp4"), "--no-ffmpeg"]) == 2
    assert "missing.mp4: file not found" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT"):
        parse_size("720p")


def test_default_input_is_the_bundled_sample():
    assert sample_clip().is_file()
