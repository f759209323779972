"""`fmsmi play`, the live player: clock, scheduler, pipeline, window, controls, audio, CLI.

Window tests run under a private Xvfb (or offscreen OSMesa) from tests/display_env.py and
skip with the reason when neither exists. Clips are generated with tests/media.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from display_env import open_display
from media import make_clip

from fmsmi.errors import FmsmiError, InputError
from fmsmi.player import cli
from fmsmi.player.live.channel import Channel, WorkerFailure
from fmsmi.player.live.clock import FakeWall, MediaClock
from fmsmi.player.live.display import Rect, letterbox, panes
from fmsmi.player.live.pipeline import PipelineConfig, SkipPolicy
from fmsmi.player.live.scheduler import Decision, Kind, Pacer, Timeline
from fmsmi.player.live.screenshot import encode_png
from fmsmi.player.live.source import SeekableSource
from fmsmi.player.media.decode import VideoDecoder


def average(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    """A fast, exact stand-in for the network (the untrained network is frame averaging too)."""
    return ((frame0.astype(np.uint16) + frame1 + 1) >> 1).astype(np.uint8)


def decoded_frames(path: Path) -> list:
    with VideoDecoder(path) as decoder:
        return list(decoder)


def read_png(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def display():
    kind, stop = open_display()
    yield kind
    stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("play")
    return {
        "tiny": make_clip(folder / "tiny.mp4", width=64, height=48, frames=16, rate=10, speed=3),
        "long": make_clip(folder / "long.mp4", width=64, height=48, frames=140, rate=10, speed=1),
        "cut": make_clip(folder / "cut.mp4", width=64, height=48, frames=12, rate=10, cut_at=6),
        "audio": make_clip(folder / "audio.mp4", width=64, height=48, frames=20, rate=10, audio=True),
        "pacing": make_clip(folder / "pacing.mp4", width=320, height=180, frames=90, rate=30, speed=4),
    }


def make_player(path: Path, **kwargs):
    from fmsmi.player.live.player import Player, PlayOptions
    option_names = set(PlayOptions.__dataclass_fields__)
    options = PlayOptions(input=path, audio=kwargs.pop("audio", False),
                          **{k: kwargs.pop(k) for k in list(kwargs) if k in option_names})
    kwargs.setdefault("interpolate", average)
    return Player(options, **kwargs)


# -- clock -----------------------------------------------------------------------------------

def test_clock_runs_pauses_seeks_on_a_fake_wall():
    wall = FakeWall()
    clock = MediaClock(wall)
    assert not clock.started and clock.time() == 0.0
    clock.start(10.0)
    wall.advance(0.5)
    assert clock.time() == pytest.approx(10.5)
    clock.pause()
    wall.advance(3.0)
    assert clock.paused and clock.time() == pytest.approx(10.5)
    clock.resume()
    wall.advance(0.25)
    assert clock.time() == pytest.approx(10.75)
    clock.hold(42.0)                      # a seek waiting for its first frame
    wall.advance(1.0)
    assert not clock.started and clock.time() == 42.0


def test_audio_master_re_anchors_only_beyond_tolerance():
    wall = FakeWall()
    clock = MediaClock(wall, tolerance=0.004)
    clock.start(0.0)
    wall.advance(1.0)
    # a block at media 1.002 heard now: within tolerance, ignored (no video jitter)
    assert not clock.sync_to_audio(1.002, wall.now)
    assert clock.time() == pytest.approx(1.0)
    # the sound card is 50 ms behind: video follows the audio
    assert clock.sync_to_audio(0.95, wall.now)
    assert clock.time() == pytest.approx(0.95)
    # a block that will be heard 30 ms from now, starting at media 1.0
    assert clock.sync_to_audio(1.0, wall.now + 0.03)
    assert clock.time() == pytest.approx(0.97)
    wall.advance(0.03)
    assert clock.time() == pytest.approx(1.0)
    clock.pause()
    assert not clock.sync_to_audio(5.0, wall.now)          # paused: audio does not move it
    assert clock.time() == pytest.approx(1.0)
    assert clock.audio_corrections == 2


def test_audio_with_bogus_timing_is_dropped_as_master():
    """A device that swallows samples faster than real time must not drag video along."""
    wall = FakeWall()
    clock = MediaClock(wall)
    clock.start(0.0)
    media = 0.0
    for _ in range(200):                          # 21 ms of audio per 1 ms of wall time
        clock.sync_to_audio(media, wall.now + 0.02)
        media += 0.021
        wall.advance(0.001)
    assert not clock.audio_trusted and clock.audio_refusals == 3
    assert clock.time() == pytest.approx(0.2)     # back on the system clock's timeline


class FakeStream:
    """Stands in for sounddevice.OutputStream: the test calls the callback by hand."""

    def __init__(self, *, samplerate, channels, dtype, blocksize, latency, callback):
        self.samplerate, self.channels, self.blocksize, self.callback = samplerate, channels, blocksize, callback
        self.latency = 0.02
        self.started = self.closed = False

    def start(self):
        self.started = True

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


class TimeInfo:
    def __init__(self, current: float, dac: float):
        self.currentTime, self.outputBufferDacTime = current, dac


def test_audio_output_is_the_master_clock(clips):
    from fmsmi.player.live.audio import AudioOutput
    wall = FakeWall()
    clock = MediaClock(wall, tolerance=0.001)
    audio = AudioOutput(clips["audio"].path, clock, stream_factory=FakeStream, blocksize=512)
    stream = audio._stream
    audio.start(0.0)
    try:
        deadline = time.monotonic() + 5
        while audio._buffered < 0.2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert audio._buffered >= 0.2, "the audio decode thread filled nothing"
        out = np.ones((512, audio.channels), np.float32)
        stream.callback(out, 512, TimeInfo(5.0, 5.05), None)   # clock not started: silence
        assert not out.any() and audio._buffered >= 0.2
        clock.start(0.0)
        first = audio._chunks[0].start
        assert first == pytest.approx(0.0, abs=0.03)
        stream.callback(out, 512, TimeInfo(5.0, 5.05), None)   # first block heard 50 ms from now
        assert np.abs(out).max() > 0.05                          # the 440 Hz tone
        assert clock.time() == pytest.approx(first - 0.05, abs=1e-6)   # video waits for the speaker
        wall.advance(512 / audio.rate)
        stream.callback(out, 512, TimeInfo(6.0, 6.05), None)   # on schedule: no correction
        assert clock.audio_corrections == 1
        assert clock.time() == pytest.approx(first - 0.05 + 512 / audio.rate, abs=1e-6)
        clock.pause()
        before = audio._buffered
        stream.callback(out, 512, TimeInfo(7.0, 7.05), None)
        assert not out.any() and audio._buffered == before       # paused: silence, nothing consumed
        audio.seek(1.0)                                          # seek: restarts at 1.0 s
        while audio._buffered < 0.2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert audio._chunks[0].start == pytest.approx(1.0, abs=1 / audio.rate)
        # the audio (at 1.0 s) is ahead of the video clock (~0 s): silence until it is due
        clock.resume()
        before = audio._buffered
        stream.callback(out, 512, TimeInfo(8.0, 8.05), None)
        assert not out.any() and audio._buffered == before
        wall.advance(1.0 - clock.time_at(wall.now + 0.05))
        stream.callback(out, 512, TimeInfo(9.0, 9.05), None)
        assert np.abs(out).max() > 0.05 and clock.time_at(wall.now + 0.05) == pytest.approx(1.0, abs=0.002)
    finally:
        audio.close()
    assert stream.closed and audio.failure is None


# -- scheduler, channel, source ---------------------------------------------------------------

def test_deadlines_midpoints_and_pacing_rule():
    from fractions import Fraction
    timeline = Timeline(Fraction(1, 15360), Fraction(30))
    d0, d1 = timeline.deadline(512), timeline.deadline(1024)
    assert (d0, d1) == (pytest.approx(1 / 30), pytest.approx(2 / 30))
    assert Timeline.middle(d0, d1) == pytest.approx(1.5 / 30)
    assert timeline.output_interval(True) == pytest.approx(1 / 60)
    assert timeline.pts_at(1.0) == 15360
    pacer = Pacer(late_limit=1 / 60)
    assert pacer.decide(1.0, 0.99)[0] is Decision.WAIT
    assert pacer.decide(1.0, 0.9995)[0] is Decision.SHOW     # within the early margin
    assert pacer.decide(1.0, 1.01)[0] is Decision.SHOW        # late, but inside its slot
    assert pacer.decide(1.0, 1.02)[0] is Decision.DROP        # its slot is over


def test_skip_policy_degrades_to_the_source_rate():
    policy = SkipPolicy(frame_interval=1 / 30, probe_after=3)
    assert not policy.skip(1.0, None) and not policy.skip(1.0, 0.9)      # no estimate yet: try
    policy.record(0.010)
    assert not policy.skip(1.0, 0.99)                                    # 10 ms: on time
    assert policy.skip(1.0, 1.01)                                        # would miss its slot
    for _ in range(4):
        policy.record(0.060)                                             # slower than the source
    skips = [policy.skip(1.0, 0.99) for _ in range(7)]                   # (one skip counted above)
    assert skips == [True, True, False, True, True, True, False]         # a probe after 3 skips
    policy.record(0.060)                                                 # the probe was slow: back off
    assert policy.probe_after == 6
    for _ in range(5):
        policy.record(1.3)                                               # hopeless: skip them all
    assert policy.hopeless and all(policy.skip(1.0, None) for _ in range(50))
    policy.reset()                                                       # i off/on: measure again
    assert not policy.hopeless and not policy.skip(1.0, 0.5)


def test_hopeless_skip_policy_probes_off_the_path_and_recovers():
    policy = SkipPolicy(frame_interval=1 / 30, probe_after=3)
    for _ in range(5):
        policy.record(0.5)                                               # a load spike at start-up
    assert policy.hopeless
    due = []
    for _ in range(9):
        assert policy.skip(1.0, 0.99)                                    # every middle skipped ...
        due.append(policy.shadow_probe_due())                            # ... one timed aside every 3
    assert due == [False, False, True] * 3
    policy.record_shadow_probe(0.4)                                      # still hopeless: back off
    assert policy.hopeless and policy.probe_after == 6
    for _ in range(5):
        policy.skip(1.0, 0.99)
    assert not policy.shadow_probe_due()
    policy.skip(1.0, 0.99)
    assert policy.shadow_probe_due()
    policy.record_shadow_probe(0.010)                                    # the spike is over
    assert not policy.hopeless and policy.estimate == 0.010 and policy.probe_after == 3
    assert not policy.skip(1.0, 0.98)


def test_channel_refuses_stale_epochs_and_keeps_failures():
    channel = Channel(2)
    assert channel.put("a", 0) and channel.put("b", 0)
    blocked = threading.Thread(target=lambda: results.append(channel.put("c", 0)))
    results: list[bool] = []
    blocked.start()
    time.sleep(0.05)
    channel.flush(1)                    # a seek: the blocked producer wakes and is refused
    blocked.join(2)
    assert results == [False] and len(channel) == 0
    assert not channel.put("old", 0) and channel.put("new", 1)
    channel.fail(WorkerFailure("decode", RuntimeError("boom")))
    channel.flush(2)
    assert isinstance(channel.get(timeout=0), WorkerFailure)   # a failure survives flushes


def test_seekable_source_lands_on_the_exact_frame(clips):
    clip = clips["long"]
    reference = decoded_frames(clip.path)
    with SeekableSource(clip.path) as source:
        step = source.info.nominal_step
        for index in (0, 37, 99, 139):
            target = reference[index].pts + step // 2            # between frames: the earlier one is on screen
            frame = next(source.frames(target))
            assert frame.pts == reference[index].pts
            assert np.array_equal(frame.image, reference[index].image)
        frame, pts = next(source.decoded(reference[50].pts))
        rgba = source.to_rgba(frame)                             # the display's RGBA = the decode layer's RGB
        assert np.array_equal(rgba[..., :3], reference[50].image) and (rgba[..., 3] == 255).all()
        assert [f.pts for f in source.frames()][:3] == [f.pts for f in reference[:3]]


def test_letterbox_keeps_the_aspect_ratio():
    assert letterbox(Rect(0, 0, 640, 360), 640, 360) == Rect(0, 0, 640, 360)
    assert letterbox(Rect(0, 0, 800, 360), 640, 360) == Rect(80, 0, 640, 360)      # pillarbox
    assert letterbox(Rect(0, 0, 640, 480), 640, 360) == Rect(0, 60, 640, 360)      # letterbox
    left, right = panes(1280, 360, 2)
    assert right == Rect(640, 0, 640, 360)
    assert letterbox(right, 320, 180) == Rect(640, 0, 640, 360)


def test_png_writer_round_trips(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    (tmp_path / "x.png").write_bytes(encode_png(image))
    assert np.array_equal(read_png(tmp_path / "x.png"), image)


# -- errors at the CLI --------------------------------------------------------------------------

def test_no_display_is_a_one_line_error(clips, monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "PYOPENGL_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["play", str(clips["tiny"].path), "--no-interp"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no display" in err[0] and "xvfb-run" in err[0]


@pytest.mark.parametrize("content", [None, b"not a video at all"])
def test_bad_input_is_a_one_line_error(tmp_path, capsys, content):
    path = tmp_path / "broken.mp4"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["play", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fmsmi play: error:") and "broken.mp4" in err[0]


# -- the window --------------------------------------------------------------------------------

def test_window_shows_the_decoded_and_the_interpolated_frames(display, clips):
    """glReadPixels of every presented frame against the decode layer and the engine."""
    from fmsmi.engine import Interpolator
    clip = clips["tiny"]
    interpolator = Interpolator("lite", backend="cpu", threads=1)
    reference = decoded_frames(clip.path)
    by_pts = {frame.pts: i for i, frame in enumerate(reference)}
    shown: list[tuple] = []
    player = make_player(clip.path, interpolate=interpolator.interpolate,
                         pipeline=PipelineConfig(skip_late=False),
                         on_present=lambda item, window: shown.append((item, window.read_pixels())))
    stats = player.run()
    timeline = player.timeline
    originals = interpolated = 0
    for item, pixels in shown:
        assert pixels.shape == (clip.height, clip.width, 3)
        if item.kind is Kind.ORIGINAL:
            index = by_pts[timeline.pts_at(item.deadline + 1e-9)]
            assert np.array_equal(pixels, reference[index].image), f"original frame {index}"
            originals += 1
        elif item.kind is Kind.INTERPOLATED:
            index = item.source_index
            expected = interpolator.interpolate(reference[index].image, reference[index + 1].image)
            assert item.deadline == pytest.approx(timeline.middle(timeline.deadline(reference[index].pts),
                                                                  timeline.deadline(reference[index + 1].pts)))
            assert np.array_equal(pixels, expected), f"middle frame {index}.5"
            interpolated += 1
    assert originals >= 14 and interpolated >= 12, stats
    assert stats["frames_target"] == 2 * clip.frames - 1


@pytest.mark.parametrize("draw_mode", ["blit", "quad"])
def test_compare_mode_shows_original_left_and_interpolated_right(display, clips, monkeypatch, draw_mode):
    monkeypatch.setenv("FMSMI_GL_DRAW", draw_mode)
    clip = clips["tiny"]
    reference = decoded_frames(clip.path)
    checked = []

    def check(item, window):
        if item.kind is not Kind.INTERPOLATED or checked:
            return
        pixels = window.read_pixels()
        assert pixels.shape == (clip.height, 2 * clip.width, 3)
        frame0, frame1 = reference[item.source_index].image, reference[item.source_index + 1].image
        assert np.array_equal(pixels[:, :clip.width], frame0)
        assert np.array_equal(pixels[:, clip.width:], average(frame0, frame1))
        checked.append(window.draw_mode)
        player.quit()

    player = make_player(clip.path, compare=True, on_present=check)
    player.run()
    assert checked == [draw_mode]


def test_pacing_holds_at_320x180(display, clips):
    """>= 95% of the 2x frames shown on time (stand-in interpolation: the pipeline's own cost).

    A real-time test on shared 2-core machines: a second playback is allowed when the first
    falls into a slow minute of the host (one run in four failed so in one CI hour, 130/150
    shown, while the machine took 1.5x its usual time for the whole suite); a pipeline that
    cannot keep pace fails both."""
    clip = clips["pacing"]
    for attempt in range(2):
        stats = make_player(clip.path, duration=2.5).run()
        assert stats["frames_target"] == 150, stats
        if stats["frames_shown"] >= 0.95 * 150 and stats["achieved_fps"] >= 0.9 * 60:
            break
    assert stats["frames_shown"] >= 0.95 * 150, stats
    assert stats["achieved_fps"] >= 0.9 * 60, stats
    assert stats["stage_ms"]["lateness"]["p50"] < 1000 / 60, stats


def slow_average(seconds: float):
    """The average after ``seconds`` of sleep: a network slower than the frame interval that
    leaves the cores free (what parallel workers overlap)."""
    def interpolate(frame0, frame1):
        time.sleep(seconds)
        return average(frame0, frame1)
    return interpolate


@pytest.mark.parametrize("workers", [1, 3])
def test_parallel_workers_keep_up_with_a_slow_interpolator_in_order(display, clips, workers):
    """A middle frame takes 80 ms, a source frame lasts 33 ms: one worker synthesises well
    under half of them (the rest skipped); three at once nearly all, and the 2x stream still
    comes out in order with the right pictures."""
    clip = clips["pacing"]
    reference = decoded_frames(clip.path)
    shown: list = []

    def on_present(item, window):
        shown.append((item.kind, item.source_index, item.deadline, window.read_pixels()))

    stats = make_player(clip.path, duration=2.5, workers=workers, interpolate=slow_average(0.08),
                        on_present=on_present).run()
    interpolated = [entry for entry in shown if entry[0] is Kind.INTERPOLATED]
    deadlines = [entry[2] for entry in shown]
    assert deadlines == sorted(deadlines), "the 2x stream came out of order"
    for kind, index, _, pixels in shown:
        expected = reference[index].image if kind is not Kind.INTERPOLATED \
            else average(reference[index].image, reference[index + 1].image)
        assert np.array_equal(pixels, expected), (kind, index)
    if workers == 1:
        assert len(interpolated) < 0.5 * 75, stats
    else:
        assert stats["frames_shown"] >= 0.9 * 150 and len(interpolated) >= 0.8 * 75, stats


@pytest.mark.parametrize("workers", [1, 2])
def test_interpolation_comes_back_after_a_slow_start(display, clips, workers):
    """The warm-up measures 200 ms a middle frame (over 4 source intervals: hopeless), then
    the machine is fast: a shadow probe after a second of skips sees it and the 2x stream
    resumes, instead of staying at the source rate until `i` is pressed twice."""
    clip = clips["pacing"]
    calls = []

    def slow_then_fast(frame0, frame1):
        calls.append(None)
        if len(calls) <= 2 * workers:       # the two warm-up calls of each worker
            time.sleep(0.2)
        return average(frame0, frame1)

    kinds: list = []
    player = make_player(clip.path, duration=2.5, workers=workers, interpolate=slow_then_fast,
                         on_present=lambda item, window: kinds.append(item.kind))
    stats = player.run()
    assert Kind.INTERPOLATED in kinds, stats
    first = kinds.index(Kind.INTERPOLATED)
    assert first >= 20 and stats["skipped_interpolations"] >= 20, "the slow warm-up should have made it hopeless"
    after = kinds[first:]
    assert after.count(Kind.INTERPOLATED) >= 0.8 * after.count(Kind.ORIGINAL), stats
    assert not player.pipeline.policy.hopeless


def test_pause_and_seek_through_key_events(display, clips):
    """Keys go through the GLFW key callback handler with GLFW key codes."""
    import glfw
    clip = clips["long"]
    reference = decoded_frames(clip.path)
    index_of = {frame.pts: i for i, frame in enumerate(reference)}
    log: list[tuple[str, object]] = []
    state = {"step": 0, "at": 0.0}
    shown: list = []

    def key(player, code):
        player.controls.on_key(player.window.handle, code, 0, glfw.PRESS, 0)

    def on_present(item, window):
        shown.append((item, window.read_pixels()))

    def script(player):
        step, now = state["step"], time.monotonic()
        originals = [item for item, _ in shown if item.kind is Kind.ORIGINAL]
        if step == 0 and len(originals) >= 5:
            key(player, glfw.KEY_SPACE)                           # pause
            state.update(step=1, at=now, clock=player.clock.time(), count=len(shown))
        elif step == 1 and now - state["at"] > 0.3:
            log.append(("paused", (len(shown) - state["count"], player.clock.time() - state["clock"])))
            state["position"] = player.position()
            key(player, glfw.KEY_RIGHT)                           # +5 s while paused: the still updates
            state.update(step=2, at=now, count=len(shown))
        elif step == 2 and len(shown) > state["count"]:
            item, pixels = shown[-1]
            log.append(("still", (item, pixels)))
            key(player, glfw.KEY_SPACE)                           # resume
            state.update(step=3, count=len(shown))
        elif step == 3 and len(shown) >= state["count"] + 6:
            log.append(("resumed", [item for item, _ in shown[state["count"]:]]))
            key(player, glfw.KEY_DOWN)                            # -60 s: clamps to the start
            state.update(step=4, count=len(shown))
        elif step == 4 and len(shown) >= state["count"] + 2:
            log.append(("start", shown[state["count"]][0]))
            key(player, glfw.KEY_Q)
            state["step"] = 5
        elif now - state.setdefault("began", now) > 20:
            pytest.fail(f"the key script stalled at step {step}")

    player = make_player(clip.path, interpolation=False, on_present=on_present, on_tick=script)
    stats = player.run()

    def pts_of(item):
        return player.timeline.pts_at(item.deadline + 1e-9)

    events = dict(log)
    frames_while_paused, clock_moved = events["paused"]
    assert frames_while_paused == 0 and clock_moved == 0.0
    item, pixels = events["still"]
    target = state["position"] + 5.0
    expected = int(target * 10 + 1e-9)                            # 10 fps: the frame on screen at target
    assert index_of[pts_of(item)] == expected
    assert np.array_equal(pixels, reference[expected].image)
    resumed = events["resumed"]
    assert [pts_of(i) for i in resumed] == [frame.pts for frame in reference[expected + 1:expected + 1 + len(resumed)]]
    assert pts_of(events["start"]) == reference[0].pts
    assert stats["seeks"] == 2


def test_fullscreen_compare_interpolation_and_screenshot_keys(display, clips, tmp_path, monkeypatch):
    import glfw
    monkeypatch.chdir(tmp_path)
    clip = clips["long"]
    seen = {}

    def key(player, code):
        player.controls.on_key(player.window.handle, code, 0, glfw.PRESS, 0)

    def script(player):
        shown = player.stats.frames_shown
        step = seen.setdefault("step", 0)
        if step == 0 and shown >= 3:
            key(player, glfw.KEY_F)
            seen.update(step=1, at=shown)
        elif step == 1 and shown >= seen["at"] + 3:
            seen["fullscreen"] = (player.window.fullscreen, player.window.framebuffer_size)
            key(player, glfw.KEY_S)                                # screenshot of the fullscreen window
            key(player, glfw.KEY_F)                                # back to the window
            key(player, glfw.KEY_C)
            key(player, glfw.KEY_I)
            seen.update(step=2, at=shown)
        elif step == 2 and shown >= seen["at"] + 3:
            seen["windowed"] = (player.window.fullscreen, player.window.framebuffer_size)
            seen["compare"], seen["interpolating"] = player.compare, player.pipeline.interpolating
            key(player, glfw.KEY_ESCAPE)
            seen["step"] = 3

    make_player(clip.path, on_tick=script).run()
    assert seen["step"] == 3
    fullscreen, (width, height) = seen["fullscreen"]
    assert fullscreen and (width, height) != (clip.width, clip.height)
    assert seen["windowed"] == (False, (clip.width, clip.height))
    assert seen["compare"] is True and seen["interpolating"] is False
    shots = list(tmp_path.glob("fmsmi-long-*.png"))
    assert len(shots) == 1
    image = read_png(shots[0])
    assert image.shape == (height, width, 3)
    # letterboxed: black bars around the picture, the picture itself in the middle
    inner = letterbox(Rect(0, 0, width, height), clip.width, clip.height)
    assert image[inner.y + inner.height // 2, inner.x + inner.width // 2].any()
    if inner.x > 0:
        assert not image[:, : inner.x - 1].any()
    if inner.y > 0:
        assert not image[: inner.y - 1].any()


@pytest.mark.skipif(not shutil.which("xdotool"), reason="needs xdotool for real X key events")
def test_real_x_key_event_quits(display, clips):
    """A key typed into the X server (XTEST) reaches the player through GLFW."""
    if display != "xvfb":
        pytest.skip("needs the Xvfb display (OSMesa windows get no X events)")
    import glfw
    sent = []

    def script(player):
        if player.stats.frames_shown >= 3 and not sent:
            window_id = glfw.get_x11_window(player.window.handle)
            subprocess.run(["xdotool", "windowfocus", "--sync", str(window_id)], check=False, timeout=5)
            subprocess.run(["xdotool", "key", "q"], check=True, timeout=5)
            sent.append(time.monotonic())
        elif sent and time.monotonic() - sent[0] > 10:
            pytest.fail("the q key never arrived")

    stats = make_player(clips["long"].path, on_tick=script).run()
    assert sent and stats["frames_shown"] < 2 * clips["long"].frames


def test_scene_cuts_are_not_blended(display, clips):
    clip = clips["cut"]
    pairs = []

    def spy(frame0, frame1):
        if frame0.any():                                           # not the warm-up calls
            pairs.append((frame0.copy(), frame1.copy()))
        return average(frame0, frame1)

    kinds = []
    make_player(clip.path, interpolate=spy, pipeline=PipelineConfig(skip_late=False),
                on_present=lambda item, window: kinds.append((item.kind, item.source_index))).run()
    reference = decoded_frames(clip.path)
    assert (Kind.REPEAT, 5) in kinds                               # frame 5 held across the cut
    assert not any(np.array_equal(f0, reference[5].image) and np.array_equal(f1, reference[6].image)
                   for f0, f1 in pairs)
    assert len(pairs) == clip.frames - 2


def test_worker_exception_is_raised_in_the_main_thread(display, clips):
    def broken(frame0, frame1):
        raise InputError("synthetic failure in the interpolation thread")

    player = make_player(clips["tiny"].path, interpolate=broken)
    with pytest.raises(FmsmiError, match="synthetic failure"):
        player.run()
    assert player.window.handle is None                            # the window was closed on the way out


def test_missing_audio_device_is_a_notice_not_an_error(display, clips, monkeypatch):
    from fmsmi.player.live import player as player_module
    monkeypatch.setattr(player_module, "audio_unavailable_reason", lambda: "no audio output device (test)")
    notices = []
    player = make_player(clips["audio"].path, audio=True, duration=0.3, notice=notices.append)
    stats = player.run()
    assert notices == ["audio.mp4: no audio output device (test): playing video only"]
    assert stats["audio"].startswith("video only") and stats["frames_shown"] > 0


def test_cli_writes_stats_and_screenshot(display, clips, tmp_path):
    """The real command with the default engine: --duration, --stats, --screenshot-at."""
    clip = clips["long"]
    stats_path, shot = tmp_path / "s.json", tmp_path / "shot.png"
    result = subprocess.run([sys.executable, "-m", "fmsmi.player.cli", "play", str(clip.path), "--duration", "1",
                             "--stats", str(stats_path), "--screenshot-at", "0.5", str(shot)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    import json
    doc = json.loads(stats_path.read_text())
    for key in ("frames_shown", "frames_dropped", "target_fps", "achieved_fps", "stage_ms"):
        assert key in doc
    assert doc["target_fps"] == 20.0 and doc["frames_target"] == 20
    assert {"decode", "interpolate", "upload", "draw"} <= set(doc["stage_ms"])
    image = read_png(shot)
    assert image.shape == (clip.height, clip.width, 3)
    # the first frame presented at or after 0.5 s: frame 5, or a later one if frame 5 was late
    reference = decoded_frames(clip.path)
    assert any(np.abs(image.astype(int) - reference[i].image).mean() < 2 for i in range(5, 12))


def test_gpu_path_is_skipped_with_a_one_line_reason_or_runs(display, clips):
    """Where CUDA, PyTorch-CUDA and pycuda.gl exist the GPU path plays the clip; elsewhere
    it reports why not in one line (and the player uses the CPU stage)."""
    from fmsmi.player.live import gpu_path
    reason = gpu_path.unavailable_reason()
    if reason is not None:
        assert "\n" not in reason and reason
        pytest.skip(f"GPU path: {reason}")
    stats = make_player(clips["tiny"].path, interpolate=None, backend="torch").run()   # pragma: no cover
    assert stats["backend"].endswith("(GPU path)") and stats["frames_shown"] > 0
