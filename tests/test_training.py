"""Training tools: triplet sources on tiny generated data, exact synthetic truth, losses,
the loop (a step lowers the loss, resume continues exactly) and the `fmsmi train` command."""

from __future__ import annotations

import json
import math

import av
import numpy as np
import pytest
import torch
from fmsmi.engine.defaults import DEFAULT_MODEL
from fmsmi.engine.network import VFIFMSMI, get_config
from fmsmi.engine.weights import load_weights
from fmsmi.errors import ConfigError, InputError
from fmsmi.training.data import (
    BatchLoader,
    ClipTriplets,
    MixedSource,
    SyntheticMotion,
    TextureBank,
    VimeoTriplets,
    load_clip,
    load_clips,
    make_batch,
    write_image,
)
from fmsmi.training.data.synthetic import MotionParams, affine_thetas, render
from fmsmi.training.losses import charbonnier, interpolation_loss
from fmsmi.training.train import (
    Session,
    TrainConfig,
    Trainer,
    lr_factor,
    make_optimizer,
    train_step,
)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: small tensors, and a 2-core machine shared with other work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def moving_square_video(path, frames=24, size=(48, 64), repeat=None, cut=None):
    """A lossless clip of a bright square moving 2 px per frame; ``repeat`` duplicates one
    frame, ``cut`` switches to an unrelated picture from that frame on."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 80, (*size, 3), dtype=np.uint8)
    other = rng.integers(150, 255, (*size, 3), dtype=np.uint8)
    pictures = []
    for index in range(frames):
        frame = background.copy() if cut is None or index < cut else other.copy()
        x = 2 * index % (size[1] - 8)
        frame[10:20, x:x + 8] = 255
        pictures.append(frame)
    if repeat is not None:
        pictures[repeat + 1] = pictures[repeat]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "bgr0"
        for picture in pictures:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


# ------------------------------------------------------------------ sources


def test_clip_triplets_split_and_gaps(tmp_path):
    clip = load_clip(moving_square_video(tmp_path / "a.mkv"))
    assert clip.frames.shape == (24, 48, 64, 3)  # every coded frame, none duplicated or dropped
    train = ClipTriplets([clip], gaps=(1, 2), split="train", holdout=0.25)
    val = ClipTriplets([clip], gaps=(1, 2), split="val", holdout=0.25)
    # 24 frames, last 6 held out: train starts k in [0, 18 - 2k)
    assert len(train) == (18 - 2) + (18 - 4) and len(val) == (6 - 2) + (6 - 4)
    train_frames = {s + j * g for _, s, g in train.index for j in range(3)}
    val_frames = {s + j * g for _, s, g in val.index for j in range(3)}
    assert max(train_frames) < 18 <= min(val_frames)
    batch = train.sample_batch(np.random.default_rng(0), 5, 32)
    assert batch.shape == (5, 3, 3, 32, 32) and batch.dtype == torch.float32
    assert 0 <= batch.min() and batch.max() <= 1
    assert train.sample_batch(np.random.default_rng(0), 2, 64).shape == (2, 3, 3, 64, 64)  # upscaled crops


def test_clip_triplets_skip_duplicates_and_cuts(tmp_path):
    duplicated = load_clip(moving_square_video(tmp_path / "dup.mkv", repeat=10))
    starts = {int(s) for _, s, g in ClipTriplets([duplicated], (1,), "all").index}
    assert 9 not in starts and 10 not in starts and 5 in starts
    cut = load_clip(moving_square_video(tmp_path / "cut.mkv", cut=12))
    assert cut.cuts[11] and cut.cuts.sum() == 1
    starts = {int(s) for _, s, g in ClipTriplets([cut], (1,), "all").index}
    assert 10 not in starts and 11 not in starts and 12 in starts


def test_video_errors(tmp_path):
    with pytest.raises(InputError, match="missing.mp4"):
        load_clips([tmp_path / "missing.mp4"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no video files"):
        load_clips([tmp_path / "empty"])


def make_vimeo(root, names=("00001/0001", "00001/0002"), size=(20, 24)):
    rng = np.random.default_rng(1)
    for name in names:
        folder = root / "sequences" / name
        folder.mkdir(parents=True)
        for k in (1, 2, 3):
            write_image(folder / f"im{k}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    (root / "tri_trainlist.txt").write_text("\n".join(names) + "\n")
    (root / "tri_testlist.txt").write_text(names[0] + "\n")
    return root


def test_vimeo_triplets(tmp_path):
    root = make_vimeo(tmp_path / "vimeo")
    data = VimeoTriplets(root, "train")
    assert len(data) == 2 and len(VimeoTriplets(root, "test")) == 1
    frame0, _, _ = data.triplet(1)
    assert frame0.shape == (20, 24, 3) and frame0.dtype == np.uint8
    assert data.sample_batch(np.random.default_rng(0), 3, 16).shape == (3, 3, 3, 16, 16)
    with pytest.raises(InputError, match="tri_trainlist.txt"):
        VimeoTriplets(tmp_path, "train")


# ------------------------------------------------------------------ synthetic motion


def test_translation_by_even_shift_is_exact():
    """A texture translated by (dx, dy) = (6, -4) frame0->frame1: the truth is the texture
    itself and the inputs are it shifted by exactly half the motion each way."""
    size, side = 32, 48
    rng = np.random.default_rng(0)
    texture = torch.from_numpy(rng.integers(0, 256, (1, 3, side, side)).astype(np.float32) / 255)
    params = MotionParams(np.array([[6.0, -4.0]]), np.zeros(1), np.zeros((1, 2)), np.zeros((1, 2)), np.ones(1))
    frames = render(texture, affine_thetas(params, size, side), size, "reflection")[0]
    quantized = frames.clamp(0, 1).mul(255).round()
    window = lambda dx, dy: texture[0, :, 8 + dy:8 + dy + size, 8 + dx:8 + dx + size].mul(255).round()
    assert torch.equal(quantized[1], window(0, 0))      # middle: no resampling at all
    assert torch.equal(quantized[0], window(3, -2))     # frame0 shows the texture at +d/2
    assert torch.equal(quantized[2], window(-3, 2))     # frame1 at -d/2: content moved by +d


def test_synthetic_batches():
    source = SyntheticMotion(TextureBank([np.random.default_rng(2).integers(0, 256, (80, 90, 3), np.uint8)]),
                             max_motion=24, max_sprites=2)
    batch = source.sample_batch(np.random.default_rng(5), 4, 32)
    assert batch.shape == (4, 3, 3, 32, 32)
    assert 0 <= batch.min() and batch.max() <= 1
    assert torch.equal(batch * 255, (batch * 255).round())  # 8-bit frames like real input
    assert torch.equal(batch, source.sample_batch(np.random.default_rng(5), 4, 32))
    assert not torch.equal(batch[:, 0], batch[:, 2])  # something moves


def test_mix_and_loader_are_deterministic_per_batch():
    synthetic = SyntheticMotion(TextureBank([]), max_motion=8, max_sprites=1)
    mix = MixedSource([synthetic, synthetic], [1, 3])
    loader = BatchLoader(mix, batch=2, size=32, seed=7, start=3, prefetch=2)
    got = [item for _, item in zip(range(2), loader)]
    loader.close()
    assert [index for index, _ in got] == [3, 4]
    assert torch.equal(got[1][1], make_batch(mix, 7, 4, 2, 32))
    with pytest.raises(ConfigError, match="weights"):
        MixedSource([synthetic], [0])


def test_loader_passes_worker_errors():
    class Broken:
        name = "broken"

        def sample_batch(self, rng, count, size):
            raise InputError("broken source")

    with pytest.raises(InputError, match="broken source"):
        next(iter(BatchLoader(Broken(), 2, 32, 0, prefetch=1)))


# ------------------------------------------------------------------ losses and schedule


def test_losses():
    x = torch.rand(2, 3, 8, 8)
    assert charbonnier(x, x).item() == pytest.approx(1e-3)
    assert charbonnier(x, x + 0.5).item() == pytest.approx(math.sqrt(0.25 + 1e-6), rel=1e-5)
    scales = {0: x, 1: torch.nn.functional.avg_pool2d(x, 2) + 0.1}
    assert interpolation_loss(x, x, scales, 0.0).item() == pytest.approx(1e-3)
    assert interpolation_loss(x, x, scales, 1.0).item() == pytest.approx(1e-3 + (1e-3 + math.sqrt(0.01 + 1e-6)) / 2,
                                                                          rel=1e-4)


def test_schedules():
    cosine = TrainConfig(samples=1000, batch=10, warmup=0.1, min_lr_ratio=0.05)
    assert lr_factor(cosine, 0) == pytest.approx(0.1) and lr_factor(cosine, 9) == pytest.approx(1.0)
    assert lr_factor(cosine, 99) == pytest.approx(0.05, abs=1e-3)
    onecycle = TrainConfig(samples=1000, batch=10, schedule="onecycle", min_lr_ratio=0.0)
    assert lr_factor(onecycle, 0) == pytest.approx(1 / 25) and lr_factor(onecycle, 30) == pytest.approx(1.0)
    assert lr_factor(onecycle, 100) == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="crop=100"):
        TrainConfig(crop=100)


# ------------------------------------------------------------------ the loop


def test_training_steps_lower_the_loss():
    torch.manual_seed(0)
    config = TrainConfig(crop=64, batch=2, lr=5e-4, warmup=0.0)
    network = VFIFMSMI(get_config("lite"))
    optimizer, _ = make_optimizer(network, config)
    batch = SyntheticMotion(TextureBank([]), max_motion=12, max_sprites=0).sample_batch(np.random.default_rng(0), 2, 64)
    losses = [train_step(network, optimizer, batch)[0] for _ in range(20)]
    assert losses[-1] < 0.99 * losses[0]  # the untrained network is frame averaging; training beats it


def tiny_config(**changes) -> TrainConfig:
    values = {"crop": 32, "batch": 2, "samples": 4, "val_count": 2, "val_size": 32, "synthetic_weight": 1.0,
              "max_motion": 8, "warmup": 0.0}
    values.update(changes)
    return TrainConfig(**values)


def tiny_session(out, **changes) -> Session:
    values = {"out": out, "log_every": 2, "prefetch": 0, "progress": False, "command": "test"}
    values.update(changes)
    return Session(**values)


def interval_losses(folder):
    rows = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if row["event"] == "interval"]


def test_resume_continues_exactly(tmp_path):
    straight = Trainer(tiny_config(), tiny_session(tmp_path / "straight")).run()
    assert straight["reason"] == "finished" and straight["samples"] == 4
    first = Trainer(tiny_config(), tiny_session(tmp_path / "resumed", minutes=0)).run()
    assert first["reason"] == "time budget" and first["samples"] == 2
    with pytest.raises(ConfigError, match="--resume"):
        Trainer(tiny_config(), tiny_session(tmp_path / "resumed"))
    second = Trainer(tiny_config(lr=5.0), tiny_session(tmp_path / "resumed"), resume=True)
    assert second.config.lr == tiny_config().lr  # the run's own settings win
    assert second.run()["samples"] == 4
    assert interval_losses(tmp_path / "resumed") == pytest.approx(interval_losses(tmp_path / "straight"), rel=1e-6)
    config = get_config(DEFAULT_MODEL)      # TrainConfig's default model
    a = load_weights(tmp_path / "straight" / f"{DEFAULT_MODEL}.pt", config)
    b = load_weights(tmp_path / "resumed" / f"{DEFAULT_MODEL}.pt", config)
    for name, tensor in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][name], tensor, rtol=1e-5, atol=1e-7)
    assert b["meta"]["samples"] == 4 and b["meta"]["finished"] and b["meta"]["commands"] == ["test", "test"]
    # resuming a finished run trains nothing more (it re-exports the same tensors)
    again = Trainer(tiny_config(), tiny_session(tmp_path / "resumed"), resume=True).run()
    assert again["reason"] == "finished" and again["samples"] == 4
    c = load_weights(tmp_path / "resumed" / f"{DEFAULT_MODEL}.pt", config)
    assert all(torch.equal(c["state_dict"][name], tensor) for name, tensor in b["state_dict"].items())


def test_train_command(tmp_path, capsys):
    from fmsmi.player.cli import main

    out = tmp_path / "run"
    clip = moving_square_video(tmp_path / "clip.mkv", frames=30)
    code = main(["train", "--out", str(out), "--clips", str(clip), "--samples", "4", "--batch", "2", "--crop", "32",
                 "--val-count", "2", "--val-size", "32", "--log-every", "2", "--prefetch", "1", "--no-progress"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reason"] == "finished" and set(result["val"]) == {"clips", "synthetic"}
    assert (out / "curves.png").stat().st_size > 0 and (out / "checkpoint.pt").is_file()
    meta = load_weights(out / f"{DEFAULT_MODEL}.pt", get_config(DEFAULT_MODEL))["meta"]
    command = meta["commands"][0]
    assert meta["samples"] == 4 and command.startswith("fmsmi train --clips") and "--samples 4" in command
    assert "--gaps 1,2,3" in command and "--crop 32" in command and "--no-progress" not in command
    assert main(["train", "--out", str(out), "--clips", str(clip)]) == 2  # exists, no --resume
    assert "--resume" in capsys.readouterr().err
