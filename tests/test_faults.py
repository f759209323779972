"""Faults around a run: unwritable or full output, Ctrl-C, the window closed, a worker raising,
a broken engine cache, missing or corrupt weights. Each ends cleanly: a clear message
(one line, exit 2; 130 for Ctrl-C), every thread stopped, nothing half-written at OUTPUT.

How the disk faults are made (they need no root where root is missing):
- unwritable folder: a read-only tmpfs mount when running as root (root ignores
  permission bits), ``chmod 555`` otherwise; skipped when neither is possible.
- full disk: a 200 KiB tmpfs mount when ``mount`` works (root), and in every case
  RLIMIT_FSIZE in the child (SIGXFSZ ignored, so a write past the limit fails with EFBIG);
  the limit is also set between the end of the media data and the end of the file, so
  that only the final index (the MP4 trailer) cannot be written.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from corpus import _write_frames, find_box
from display_env import open_display
from fake_tensorrt import fake_tensorrt
from forkrun import PRELOAD, TIME_LIMIT, ForkServer, Job, child_env, error_lines
from media import make_clip

from fmsmi.errors import FmsmiError, InputError


@pytest.fixture(scope="module")
def server():
    with ForkServer(PRELOAD + ["test_faults"], env=child_env()) as server:
        yield server


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault-clips")
    noisy = _write_frames(folder / "noisy.mp4", "libx264", "yuv420p", 320, 240, 24,
                          options={"preset": "ultrafast", "crf": "10"})
    return {"small": make_clip(folder / "small.mp4", frames=8).path, "noisy": noisy,
            "long": make_clip(folder / "long.mp4", frames=300, rate=25).path}


def fmsmi_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fmsmi-") and t.is_alive()]


def one_line_error(result, command: str, *fragments: str) -> str:
    assert not result.timed_out and "Traceback" not in result.stderr, result.describe()
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1, result.describe()
    assert lines[0].startswith(f"fmsmi {command}: error: "), result.describe()
    for fragment in fragments:
        assert fragment in lines[0], result.describe()
    return lines[0]


def mount_tmpfs(folder: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, check=False)
    return done.returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True, check=False)


# -- the output folder ------------------------------------------------------------------------

@pytest.fixture
def unwritable_folder(tmp_path):
    folder = tmp_path / "locked"
    if mount_tmpfs(folder, "ro,size=64k"):
        yield folder
        unmount(folder)
    elif os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    else:
        pytest.skip("root without mount: no way to make a folder unwritable")


def test_unwritable_output_folder(server, clips, unwritable_folder, tmp_path):
    output = unwritable_folder / "out.mp4"
    [result] = server.run([Job(["interpolate", str(clips["small"]), str(output)], cwd=tmp_path, timeout=TIME_LIMIT)])
    one_line_error(result, "interpolate", str(output), "not writable")
    assert result.seconds < 10          # refused before the model loads
    assert list(unwritable_folder.iterdir()) == []


@pytest.fixture
def full_disk(tmp_path):
    folder = tmp_path / "full"
    if not mount_tmpfs(folder, "size=200k"):
        pytest.skip("mount -t tmpfs needs root (the RLIMIT_FSIZE tests cover a full disk)")
    yield folder
    unmount(folder)


def test_full_disk_tmpfs(server, clips, full_disk, tmp_path):
    output = full_disk / "out.mp4"
    [result] = server.run([Job(["interpolate", str(clips["noisy"]), str(output), "--crf", "0"], cwd=tmp_path,
                               timeout=TIME_LIMIT)])
    one_line_error(result, "interpolate", str(output), "writing failed (No space left on device)")
    assert list(full_disk.iterdir()) == []


def test_full_disk_file_size_limit(server, clips, tmp_path):
    """Writes fail from the first byte past the limit: during the media data, and (the
    subtle one) only at the trailer, when everything but the MP4 index fits."""
    reference = tmp_path / "reference"
    reference.mkdir()
    [done] = server.run([Job(["interpolate", str(clips["noisy"]), str(reference / "out.mp4")], cwd=reference,
                             timeout=TIME_LIMIT)])
    assert done.returncode == 0, done.describe()
    data = (reference / "out.mp4").read_bytes()
    moov_offset, moov_size = find_box(data, b"moov")
    assert moov_offset + moov_size == len(data), "the index is expected at the end"
    limits = {"media data": moov_offset // 2, "trailer": moov_offset + moov_size // 2}
    jobs, folders = [], {}
    for name, limit in limits.items():
        folders[name] = tmp_path / name.replace(" ", "-")
        folders[name].mkdir()
        jobs.append(Job(["interpolate", str(clips["noisy"]), str(folders[name] / "out.mp4")], cwd=folders[name],
                        timeout=TIME_LIMIT, fsize_limit=limit, label=name))
    for name, result in zip(limits, server.run(jobs, parallel=2)):
        one_line_error(result, "interpolate", "writing failed (File too large)")
        assert list(folders[name].iterdir()) == [], name


# -- Ctrl-C, as real processes ---------------------------------------------------------------------

def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def _wait_for(process, condition, limit: float = 60.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if condition():
            return True
        time.sleep(0.01)
    return False


# mapped into a process once it has an OpenGL context (Mesa's DRI/gallium drivers, OSMesa)
GL_DRIVERS = ("/dri/", "libgallium", "swrast", "libOSMesa", "libGLX_mesa")
SIGINT_POINTS = {
    # name: (command, when, extra delay, signals)
    "interpolate-loading-torch": ("interpolate", "torch", 0.0, 1),
    "interpolate-first-frames": ("interpolate", "partial", 0.0, 1),
    "interpolate-twice": ("interpolate", "partial", 0.4, 2),
    "play-playing": ("play", "window", 1.0, 1),
    "play-twice": ("play", "window", 1.0, 2),
}


@pytest.fixture(scope="module")
def interrupted(clips, tmp_path_factory):
    """Run every SIGINT_POINTS scenario at once (each its own `python -m fmsmi.player.cli`)
    and send SIGINT at its point: torch mapped into the process (its import runs inside the
    command), the partial output file created, the OpenGL driver loaded (the window).
    name -> (exit status, stderr, folder), or the reason it was skipped."""
    display_kind, stop_display, no_display = None, None, None
    runs, results = {}, {}
    try:
        for name, (command, when, delay, count) in SIGINT_POINTS.items():
            folder = tmp_path_factory.mktemp(name)
            env = {**os.environ, **child_env()}
            if command == "play":
                if display_kind is None and no_display is None:
                    try:
                        display_kind, stop_display = open_display()
                    except pytest.skip.Exception as exc:
                        no_display = str(exc)
                if no_display is not None:
                    results[name] = no_display
                    continue
                env.update({k: os.environ[k] for k in ("DISPLAY", "PYOPENGL_PLATFORM") if k in os.environ})
                argv = ["play", str(clips["long"]), "--stats", str(folder / "stats.json")]
            else:
                argv = ["interpolate", str(clips["long"]), str(folder / "out.mp4"), "--threads", "1"]
            process = subprocess.Popen([sys.executable, "-m", "fmsmi.player.cli", *argv], cwd=folder, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            runs[name] = (process, folder)

        def send(name):
            process, folder = runs[name]
            _, when, delay, count = SIGINT_POINTS[name]
            conditions = {
                "torch": lambda: "libtorch" in _maps(process.pid),
                "partial": lambda: any(".fmsmi-partial" in p.name for p in folder.iterdir()),
                "window": lambda: any(gl in _maps(process.pid) for gl in GL_DRIVERS),
            }
            if _wait_for(process, conditions[when]):
                time.sleep(delay)
                for _ in range(count):
                    process.send_signal(signal.SIGINT)
                    time.sleep(0.05)

        senders = [threading.Thread(target=send, args=(name,)) for name in runs]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        for name, (process, folder) in runs.items():
            try:
                _, err = process.communicate(timeout=TIME_LIMIT)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
                err = "TIMED OUT\n" + err
            results[name] = (process.returncode, err, folder)
        return results
    finally:
        for process, _ in runs.values():
            if process.poll() is None:
                process.kill()
        if stop_display is not None:
            stop_display()             # puts DISPLAY / PYOPENGL_PLATFORM back


@pytest.mark.parametrize("name", sorted(SIGINT_POINTS))
def test_ctrl_c(name, interrupted):
    if isinstance(interrupted[name], str):
        pytest.skip(interrupted[name])
    code, err, folder = interrupted[name]
    assert "Traceback" not in err and "TIMED OUT" not in err, err
    assert code == 130, err
    assert error_lines(err) == [f"fmsmi {SIGINT_POINTS[name][0]}: interrupted"], err
    assert list(folder.iterdir()) == [], "Ctrl-C left files behind"


def test_ctrl_c_while_the_command_line_is_parsed(monkeypatch, capsys):
    """A SIGINT before any command runs (importing the command modules, parsing) is the same
    one line and 130 as one inside a command, not a KeyboardInterrupt traceback."""
    from fmsmi.player import cli

    def interrupted_parser():
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "build_parser", interrupted_parser)
    assert cli.main(["interpolate", "in.mp4", "out.mp4"]) == 130
    assert capsys.readouterr().err.splitlines() == ["fmsmi: interrupted"]


def test_repeated_ctrl_c_forces_an_exit_and_runs_the_last_resort():
    """The fourth SIGINT ends the process at once (clean-up stuck), after ``force``."""
    code = (
        "import os, signal, sys, time\n"
        "from fmsmi.player.commands.interrupts import graceful_interrupts\n"
        "with graceful_interrupts('fmsmi test', force=lambda: print('forced', file=sys.stderr)):\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(1)\n"
        "    except KeyboardInterrupt:\n"
        "        print('first', file=sys.stderr)\n"
        "        for _ in range(3):\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "            time.sleep(0.05)\n"
        "        print('not reached', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 130
    assert done.stderr.splitlines() == ["first", "forced", "fmsmi test: interrupted 4 times: stopped without cleaning up"]


# -- a worker thread raising -----------------------------------------------------------------------

def failing_after(method, count: int, error: BaseException):
    """``method`` that raises ``error`` from its call number ``count + 1`` on."""
    calls = {"n": 0}

    def wrapper(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > count:
            raise error
        return method(self, *args, **kwargs)
    return wrapper


def cli_with_a_failing_stage(stage: str, kind: str, *argv: str) -> None:
    """Run in a child (the fork runner): `fmsmi ARGV` with ``stage`` raising after 3 frames;
    ``kind`` "input" raises an InputError (a damaged file), "bug" a RuntimeError."""
    from fmsmi.player import cli
    from fmsmi.player.media import decode, encode
    error = InputError(f"{argv[1]}: synthetic failure in the {stage} stage") if kind == "input" \
        else RuntimeError(f"synthetic bug in the {stage} stage")
    if stage == "decode":
        decode.VideoDecoder.to_rgb = failing_after(decode.VideoDecoder.to_rgb, 3, error)
    else:
        encode.VideoEncoder.write_frame = failing_after(encode.VideoEncoder.write_frame, 3, error)
    sys.exit(cli.main(list(argv)))


@pytest.mark.parametrize("stage", ["decode", "encode"])
def test_worker_raising_in_the_cli(server, clips, tmp_path, stage):
    folders = {kind: tmp_path / kind for kind in ("input", "bug")}
    jobs = []
    for kind, folder in folders.items():
        folder.mkdir()
        jobs.append(Job([stage, kind, "interpolate", str(clips["long"]), str(folder / "out.mp4")], cwd=folder,
                        timeout=TIME_LIMIT, call="test_faults:cli_with_a_failing_stage", label=f"{stage} {kind}"))
    clean, bug = server.run(jobs, parallel=2)
    one_line_error(clean, "interpolate", f"synthetic failure in the {stage} stage")
    # a bug is not hidden: its traceback, exit 1; but the run still stops promptly and cleanly
    assert bug.returncode == 1 and not bug.timed_out, bug.describe()
    assert f"RuntimeError: synthetic bug in the {stage} stage" in bug.stderr
    assert bug.seconds < 30
    for folder in folders.values():
        assert list(folder.iterdir()) == [], "a failed run left files behind"


def test_worker_raising_in_export_stops_every_thread(clips, tmp_path, monkeypatch):
    import torch
    from fmsmi.player.export import ExportConfig, export
    from fmsmi.player.media import decode

    class Average:
        device = torch.device("cpu")

        def interpolate_tensor(self, frame0, frame1):
            return (frame0 + frame1) / 2

    monkeypatch.setattr(decode.VideoDecoder, "to_rgb",
                        failing_after(decode.VideoDecoder.to_rgb, 5, InputError("damaged beyond repair")))
    with pytest.raises(InputError, match="damaged beyond repair"):
        export(ExportConfig(input=clips["small"], output=tmp_path / "out.mp4"), progress=False, interpolator=Average())
    assert fmsmi_threads() == [] and list(tmp_path.iterdir()) == []


# -- the player: window closed, worker raising --------------------------------------------------------

@pytest.fixture(scope="module")
def display():
    kind, stop = open_display()
    yield kind
    stop()


def average(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    return ((frame0.astype(np.uint16) + frame1 + 1) >> 1).astype(np.uint8)


def make_player(path: Path, **kwargs):
    from fmsmi.player.live.player import Player, PlayOptions
    return Player(PlayOptions(input=path, audio=False), interpolate=average, **kwargs)


@pytest.mark.display
def test_window_closed_during_decode(display, clips):
    """The close button (GLFW's should-close flag) while the decode thread is busy or blocked
    on a full channel: run() returns, every thread stops, the window and file are closed."""
    import glfw

    def close(player):
        if player.stats.frames_shown >= 3:
            glfw.set_window_should_close(player.window.handle, True)

    player = make_player(clips["long"], on_tick=close)
    started = time.monotonic()
    stats = player.run()
    assert time.monotonic() - started < 20
    assert 3 <= stats["frames_shown"] < 100
    assert player.window.handle is None
    assert not any(thread.is_alive() for thread in player.pipeline._threads)
    assert fmsmi_threads() == []


@pytest.mark.display
def test_decode_thread_raising_in_the_player(display, clips, monkeypatch):
    from fmsmi.player.live import source

    monkeypatch.setattr(source.SeekableSource, "to_rgba",
                        failing_after(source.SeekableSource.to_rgba, 4, InputError("decode stage broke")))
    player = make_player(clips["long"])
    with pytest.raises(FmsmiError, match="decode stage broke"):
        player.run()
    assert player.window.handle is None
    assert not any(thread.is_alive() for thread in player.pipeline._threads)


# -- engine cache ----------------------------------------------------------------------------------

@pytest.fixture
def engine_setup(tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")
    from fmsmi.export import trt_build
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, "h", "w"]) for name in ("frame0", "frame1")]
    output = helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, 3, "h", "w"])
    graph = helper.make_graph([helper.make_node("Add", ["frame0", "frame1"], ["frame"])], "tiny", inputs, [output])
    onnx_path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(onnx_path))
    trt = fake_tensorrt()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(trt_build, "gpu_identity", lambda: ("NVIDIA GeForce RTX 3060", (8, 6)))
    monkeypatch.setattr(trt_build, "load_plugin", lambda trt, library=None: Path("plugin.so"))
    cache = tmp_path / "engines"
    profile = trt_build.Profile.for_model(32)
    built = trt_build.build_engine(onnx_path, profile, "fp16", engine_dir=cache)
    assert built.rebuilt and trt.builds == 1
    return types.SimpleNamespace(trt=trt, trt_build=trt_build, onnx=onnx_path, profile=profile, cache=cache,
                                 engine=built.path)


@pytest.mark.parametrize("content", [b"", b"engine"[:3], os.urandom(4096), b"raise",
                                     b"ftrt engine serialized by TensorRT 8.6 for sm_75" + bytes(512)],
                         ids=["empty", "truncated", "random", "deserializer-raises", "foreign"])
def test_broken_engine_cache_is_rebuilt(engine_setup, caplog, content):
    setup = engine_setup
    setup.engine.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="fmsmi.export.trt_build"):
        loaded = setup.trt_build.load_or_build_engine(setup.onnx, setup.profile, "fp16", engine_dir=setup.cache)
    assert loaded.engine == "ENGINE" and setup.engine.read_bytes() == b"engine" and setup.trt.builds == 2
    notes = [r.getMessage() for r in caplog.records if "rebuilding" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0] and setup.engine.name in notes[0]
    leftovers = [p.name for p in setup.cache.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []                      # no temporary files


def test_engine_cache_path_taken_by_a_directory(engine_setup):
    setup = engine_setup
    setup.engine.unlink()
    setup.engine.mkdir()
    with pytest.raises(FmsmiError) as caught:
        setup.trt_build.load_or_build_engine(setup.onnx, setup.profile, "fp16", engine_dir=setup.cache)
    message = str(caught.value)
    assert "\n" not in message and str(setup.engine) in message and "FMSMI_CACHE" in message


def test_engine_cache_folder_unwritable(engine_setup, unwritable_folder):
    setup = engine_setup
    with pytest.raises(FmsmiError) as caught:
        setup.trt_build.load_or_build_engine(setup.onnx, setup.profile, "fp16", engine_dir=unwritable_folder)
    message = str(caught.value)
    assert "\n" not in message and str(unwritable_folder) in message and "FMSMI_CACHE" in message
    assert list(unwritable_folder.iterdir()) == []


# -- weights ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    import torch
    from fmsmi.engine.network import VFIFMSMI, get_config
    from fmsmi.engine.weights import config_dict, save_weights

    folder = tmp_path_factory.mktemp("weights")
    network = VFIFMSMI(get_config("lite"))
    save_weights(folder / "good.pt", network.config, network.state_dict())
    good = (folder / "good.pt").read_bytes()
    files = {
        "missing": folder / "missing.pt",
        "empty": folder / "empty.pt",
        "truncated": folder / "truncated.pt",
        "text": folder / "notes.pt",
        "random": folder / "random.pt",
        "not-a-dict": folder / "list.pt",
        "code-in-pickle": folder / "evil.pt",
        "missing-tensor": folder / "missing-tensor.pt",
        "wrong-shape": folder / "wrong-shape.pt",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good[:len(good) // 2])
    files["text"].write_text("these are not weights\n")
    files["random"].write_bytes(np.random.default_rng(0).bytes(5000))
    torch.save([1, 2, 3], files["not-a-dict"])

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"format": 1, "state_dict": Evil()}, files["code-in-pickle"])
    state = network.state_dict()
    first = next(iter(state))
    payload = {"format": 1, "config": config_dict(network.config), "meta": {}}
    torch.save({**payload, "state_dict": {k: v for k, v in state.items() if k != first}}, files["missing-tensor"])
    torch.save({**payload, "state_dict": {**state, first: torch.zeros(3)}}, files["wrong-shape"])
    return files


@pytest.fixture(scope="module")
def weight_runs(server, clips, weight_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("weight-runs")
    jobs = [Job(["interpolate", str(clips["small"]), str(folder / f"{name}.mp4"), "--weights", str(path)],
                cwd=folder, timeout=TIME_LIMIT, label=name) for name, path in weight_files.items()]
    return folder, dict(zip(weight_files, server.run(jobs, parallel=2)))


@pytest.mark.parametrize("name", ["missing", "empty", "truncated", "text", "random", "not-a-dict",
                                  "code-in-pickle", "missing-tensor", "wrong-shape"])
def test_bad_weights_file_is_a_one_line_error_naming_it(name, weight_files, weight_runs):
    folder, runs = weight_runs
    one_line_error(runs[name], "interpolate", str(weight_files[name]))
    assert not (folder / f"{name}.mp4").exists()
    assert not any(".fmsmi-partial" in p.name for p in folder.iterdir())
