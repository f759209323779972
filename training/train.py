"""The training loop: AdamW, a schedule tied to the planned samples, resumable checkpoints.

A run lives in one folder (``Session.out``):

- ``checkpoint.pt``: model, optimizer, scheduler, samples seen, next batch index, the config
  and the command lines of every session; written atomically every few minutes and at
  every stop. Batches are a function of (seed, batch index) (see data.loader), so a resumed
  run continues exactly where an uninterrupted one would be.
- ``log.jsonl``: a ``start`` row per session, an ``interval`` row every ``log_every`` samples
  (mean training loss, learning rate, gradient norm, throughput, validation PSNR on the
  held-out sets) and a ``stop`` row. ``curves.png`` is redrawn from it at each interval.
- ``<model>.pt``: the weights (engine.weights format), exported at every stop with the
  commands and samples seen in their meta.

Validation never uses DAVIS: it is the last ``holdout`` fraction of every training clip
(frames no training triplet touches) and a fixed set of synthetic scenes.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from fmsmi.engine.defaults import DEFAULT_MODEL
from fmsmi.engine.frames import pad_to_multiple
from fmsmi.engine.network import VFIFMSMI, get_config
from fmsmi.engine.op import adaptive_sepconv
from fmsmi.engine.weights import apply_weights, save_weights
from fmsmi.errors import ConfigError, FmsmiError, InputError

from .data import (
    BatchLoader,
    ClipTriplets,
    MixedSource,
    SyntheticMotion,
    TextureBank,
    VimeoTriplets,
    find_images,
    load_clips,
    read_image,
    to_batch,
)
from .losses import interpolation_loss
from .metrics import psnr_batch

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "fmsmi-train-1"
SCHEDULES = ("cosine", "onecycle")
TEXTURE_MAX_SIDE = 1024  # texture images are downscaled to this on load (memory)


@dataclass(frozen=True)
class TrainConfig:
    """What defines a run (fixed for its life; stored in the checkpoint)."""

    model: str = DEFAULT_MODEL
    clips: tuple[str, ...] = ()
    gaps: tuple[int, ...] = (1, 2, 3)
    vimeo: str | None = None
    textures: tuple[str, ...] = ()
    clip_weight: float = 0.5
    vimeo_weight: float = 0.5
    synthetic_weight: float = 0.5
    max_motion: float = 48.0
    max_sprites: int = 3
    procedural: float = 0.3
    holdout: float = 0.1
    crop: int = 128
    batch: int = 8
    samples: int = 1_000_000
    lr: float = 1e-3
    min_lr_ratio: float = 0.02
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup: float = 0.02
    scale_loss: float = 0.0
    clip_grad: float = 0.0
    seed: int = 0
    init: str | None = None
    val_count: int = 32
    val_size: int = 256

    def __post_init__(self) -> None:
        get_config(self.model)
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule={self.schedule!r}: expected one of {list(SCHEDULES)}")
        multiple = get_config(self.model).multiple
        for name in ("crop", "val_size"):
            value = getattr(self, name)
            if value < multiple or value % multiple:
                raise ConfigError(f"{name}={value}: expected a multiple of {multiple} (model {self.model!r})")
        for name in ("batch", "samples", "val_count"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: expected >= 1")
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1 or not 0 <= self.warmup < 1:
            raise ConfigError(f"lr={self.lr}, min_lr_ratio={self.min_lr_ratio}, warmup={self.warmup}: expected "
                              "lr > 0, min_lr_ratio in [0, 1], warmup in [0, 1)")

    @property
    def total_steps(self) -> int:
        return math.ceil(self.samples / self.batch)


@dataclass(frozen=True)
class Session:
    """What may change from one session of a run to the next."""

    out: Path
    minutes: float | None = None
    checkpoint_minutes: float = 10.0
    log_every: int = 5000
    bf16: bool = False
    op: str = "auto"
    prefetch: int = 2
    progress: bool = True
    command: str = field(default_factory=lambda: " ".join(sys.argv))


# ---------------------------------------------------------------------------------------- data


def _texture_images(folders) -> list[np.ndarray]:
    images = []
    for path in (p for folder in folders for p in find_images(folder)):
        image = read_image(path)
        scale = TEXTURE_MAX_SIDE / max(image.shape[:2])
        if scale < 1:
            tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
            size = (int(image.shape[0] * scale), int(image.shape[1] * scale))
            tensor = torch.nn.functional.interpolate(tensor, size=size, mode="bilinear", antialias=True)
            image = tensor[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()
        images.append(image)
    return images


def build_data(config: TrainConfig) -> tuple[MixedSource, dict[str, list[torch.Tensor]]]:
    """The training mix and the validation sets ({name: list of (3,3,H,W) samples}): held-out
    clip frames, Vimeo90K's test list when given, fixed synthetic scenes."""
    sources, weights, validation = [], [], {}
    textures: list[np.ndarray] = []
    if config.clips:
        clips = load_clips(config.clips)
        train = ClipTriplets(clips, config.gaps, "train", config.holdout)
        log.info("clips: %s", train.describe())
        if config.clip_weight > 0:
            sources.append(train)
            weights.append(config.clip_weight)
        for clip in clips:  # textures from the training part of each clip only
            boundary = len(clip.frames) - round(len(clip.frames) * config.holdout)
            textures += list(clip.frames[:boundary:2])
        held_out = ClipTriplets(clips, config.gaps, "val", config.holdout).fixed_crops(config.val_count, config.val_size)
        if held_out:
            validation["clips"] = [to_batch([t])[0] for t in held_out]
    if config.vimeo:
        vimeo = VimeoTriplets(config.vimeo, "train")
        log.info("vimeo: %s", vimeo.describe())
        if config.vimeo_weight > 0:
            sources.append(vimeo)
            weights.append(config.vimeo_weight)
        try:
            test = VimeoTriplets(config.vimeo, "test")
            picks = np.linspace(0, len(test) - 1, min(config.val_count, len(test))).round().astype(int)
            validation["vimeo"] = [to_batch([test.triplet(int(i))])[0] for i in picks]
        except InputError as exc:
            log.info("no Vimeo90K validation: %s", exc)
    textures += _texture_images(config.textures)
    synthetic = SyntheticMotion(TextureBank(textures, config.procedural), config.max_motion, config.max_sprites)
    if config.synthetic_weight > 0:
        sources.append(synthetic)
        weights.append(config.synthetic_weight)
    if not sources:
        raise ConfigError("no training data: give --clips and/or --vimeo, or a positive --synthetic-weight")
    fixed = synthetic.sample_batch(np.random.default_rng([config.seed, 2 ** 31]), max(config.val_count // 2, 1),
                                   config.val_size)
    validation["synthetic"] = list(fixed)
    return MixedSource(sources, weights), validation


# ---------------------------------------------------------------------------------------- model


def _fp32_sepconv(op: str):
    """The op in fp32 whatever autocast made of the kernels (it accumulates in fp32 anyway)."""
    def sepconv(img, kernel_v, kernel_h, dilation):
        return adaptive_sepconv(img.float(), kernel_v.float(), kernel_h.float(), dilation, backend=op)
    return sepconv


def build_network(config: TrainConfig, op: str = "auto") -> VFIFMSMI:
    torch.manual_seed(config.seed)
    network = VFIFMSMI(get_config(config.model), sepconv=_fp32_sepconv(op))
    if config.init:
        apply_weights(network, config.init)
    return network


def lr_factor(config: TrainConfig, step: int) -> float:
    """Learning-rate multiplier at optimizer step ``step`` of ``config.total_steps``."""
    total = config.total_steps
    floor = config.min_lr_ratio
    if config.schedule == "onecycle":
        warm = max(int(0.3 * total), 1)
        if step < warm:
            start = 1 / 25
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * step / warm))
    else:
        warm = int(config.warmup * total)
        if step < warm:
            return (step + 1) / warm
    progress = min((step - warm) / max(total - warm, 1), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(network: torch.nn.Module, config: TrainConfig):
    decay = [p for n, p in network.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in network.named_parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config, step))
    return optimizer, scheduler


def train_step(network: VFIFMSMI, optimizer, batch: torch.Tensor, scale_loss: float = 0.0, bf16: bool = False,
               clip_grad: float = 0.0) -> tuple[float, float]:
    """One optimizer step on a (N,3,3,H,W) batch; returns (loss, gradient norm)."""
    network.train()
    frame0, middle, frame1 = batch[:, 0], batch[:, 1], batch[:, 2]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        frame, scales = network(frame0, frame1, return_scales=True)
        loss = interpolation_loss(frame, middle, scales, scale_loss)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(network.parameters(), clip_grad if clip_grad > 0 else math.inf)
    optimizer.step()
    return float(loss.detach()), float(norm)


@torch.no_grad()
def validate(network: VFIFMSMI, samples: list[torch.Tensor]) -> float:
    """Mean PSNR (uint8-rounded output, as `fmsmi eval` measures) over (3,3,H,W) samples."""
    network.eval()
    values = []
    multiple = network.config.multiple
    for sample in samples:
        frame0, middle, frame1 = sample[:, None]  # each (1,3,H,W)
        height, width = middle.shape[-2:]
        out = network(pad_to_multiple(frame0, multiple), pad_to_multiple(frame1, multiple))[..., :height, :width]
        values.append(float(psnr_batch(out, middle)[0]))
    return float(np.mean(values))


def average_psnr(samples: list[torch.Tensor]) -> float:
    return float(np.mean([float(psnr_batch((s[0:1] + s[2:3]) / 2, s[1:2])[0]) for s in samples]))


# ---------------------------------------------------------------------------------------- files


def _atomic_save(payload: dict, path: Path) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise InputError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not an fmsmi training checkpoint (format {CHECKPOINT_FORMAT})")
    return payload


def config_from_dict(values: dict) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
    return TrainConfig(**values)


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_curves(rows: list[dict], path: Path) -> None:
    """Training loss and validation PSNR against samples seen, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    intervals = [r for r in rows if r.get("event") == "interval"]
    if not intervals:
        return
    samples = [r["samples"] for r in intervals]
    figure, (loss_axis, psnr_axis) = plt.subplots(1, 2, figsize=(11, 4))
    loss_axis.plot(samples, [r["loss"] for r in intervals])
    loss_axis.set(xlabel="samples", ylabel="training loss (Charbonnier)", yscale="log", title="loss")
    starts = [r for r in rows if r.get("event") == "start"]
    for name in sorted({k for r in intervals for k in r.get("val", {})}):
        line, = psnr_axis.plot(samples, [r["val"].get(name, math.nan) for r in intervals], label=f"{name}")
        baseline = starts[-1].get("val_average", {}).get(name) if starts else None
        if baseline is not None:
            psnr_axis.axhline(baseline, color=line.get_color(), linestyle=":", label=f"{name} frame averaging")
    psnr_axis.set(xlabel="samples", ylabel="PSNR dB (uint8)", title="validation (held out, not DAVIS)")
    psnr_axis.legend(fontsize=8)
    for axis in (loss_axis, psnr_axis):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    temporary = path.with_name(path.name + ".tmp.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    temporary.replace(path)


# ---------------------------------------------------------------------------------------- loop


class Trainer:
    """One session of a run: builds or resumes the state, trains until done, out of time or
    stopped (:meth:`request_stop`, e.g. from a signal), then checkpoints and exports."""

    def __init__(self, config: TrainConfig, session: Session, resume: bool = False):
        self.session = session
        out = Path(session.out)
        out.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path = out / "checkpoint.pt"
        self.log_path = out / "log.jsonl"
        self.curves_path = out / "curves.png"
        state = None
        if self.checkpoint_path.exists():
            if not resume:
                raise ConfigError(f"{out}: a run exists here ({self.checkpoint_path.name}); pass --resume to "
                                  "continue it, or choose another --out")
            state = load_checkpoint(self.checkpoint_path)
            stored = config_from_dict(state["config"])
            changed = [f.name for f in dataclasses.fields(TrainConfig) if getattr(config, f.name) != getattr(stored, f.name)]
            if changed:
                log.warning("resuming %s: keeping the run's own %s (a run's settings are fixed at its start)",
                            out, ", ".join(f"{n}={getattr(stored, n)!r}" for n in changed))
            config = stored
        self.config = config
        self.weights_path = out / f"{config.model}.pt"
        self.network = build_network(config if state is None else dataclasses.replace(config, init=None), session.op)
        self.optimizer, self.scheduler = make_optimizer(self.network, config)
        self.samples, self.next_batch, self.elapsed, self.commands = 0, 0, 0.0, []
        if state is not None:
            self.network.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.samples, self.next_batch = int(state["samples"]), int(state["next_batch"])
            self.elapsed, self.commands = float(state["elapsed"]), list(state["commands"])
            torch.set_rng_state(state["torch_rng"])
        self.commands.append(session.command)
        self._stop_reason: str | None = None
        self._session_start = time.monotonic()
        self._elapsed_at_start = self.elapsed

    def request_stop(self, reason: str = "interrupted") -> None:
        self._stop_reason = reason

    # -- files

    def _update_elapsed(self) -> None:
        self.elapsed = self._elapsed_at_start + time.monotonic() - self._session_start

    def save_checkpoint(self) -> None:
        self._update_elapsed()
        _atomic_save({"format": CHECKPOINT_FORMAT, "config": dataclasses.asdict(self.config),
                      "model": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                      "scheduler": self.scheduler.state_dict(), "samples": self.samples,
                      "next_batch": self.next_batch, "elapsed": self.elapsed, "commands": self.commands,
                      "torch_rng": torch.get_rng_state()}, self.checkpoint_path)
        log.info("checkpoint %s at %d samples", self.checkpoint_path, self.samples)

    def export_weights(self, validation: dict[str, float]) -> Path:
        meta = {"samples": self.samples, "planned_samples": self.config.samples,
                "finished": self.samples >= self.config.samples, "commands": self.commands,
                "train_config": dataclasses.asdict(self.config), "validation_psnr": validation,
                "training_hours": round(self.elapsed / 3600, 3),
                "exported": datetime.datetime.now().isoformat(timespec="seconds")}
        save_weights(self.weights_path, self.network.config, self.network.state_dict(), meta)
        return self.weights_path

    def _log(self, row: dict) -> None:
        with open(self.log_path, "a") as handle:
            handle.write(json.dumps(row) + "\n")

    def _truncate_log(self) -> None:
        """Drop interval rows a crashed session wrote after its last checkpoint."""
        rows = read_log(self.log_path)
        kept = [r for r in rows if r.get("event") != "interval" or r["samples"] <= self.samples]
        if len(kept) != len(rows):
            self.log_path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    # -- loop

    def _validate(self, validation: dict[str, list[torch.Tensor]]) -> dict[str, float]:
        return {name: round(validate(self.network, samples), 3) for name, samples in validation.items()}

    def run(self, data: tuple[MixedSource, dict] | None = None) -> dict:
        """Train this session; ``data`` = (source, validation sets) overrides build_data (tests)."""
        config, session = self.config, self.session
        source, validation = data if data is not None else build_data(config)
        self._truncate_log()
        self._log({"event": "start", "samples": self.samples, "time": datetime.datetime.now().isoformat(timespec="seconds"),
                   "command": session.command, "data": getattr(source, "describe", lambda: "")(),
                   "threads": torch.get_num_threads(), "bf16": session.bf16, "op": session.op,
                   "val_average": {name: round(average_psnr(s), 3) for name, s in validation.items()}})
        loader = BatchLoader(source, config.batch, config.crop, config.seed, start=self.next_batch,
                             prefetch=session.prefetch)
        bar = self._progress_bar()
        last_checkpoint = interval_start = time.monotonic()
        losses, norms, reason = [], [], None
        interval_samples = 0
        try:
            for index, batch in loader:
                if self.samples >= config.samples:   # a finished run, resumed: nothing left to train
                    reason = "finished"
                    break
                loss, norm = train_step(self.network, self.optimizer, batch, config.scale_loss, session.bf16,
                                        config.clip_grad)
                if not math.isfinite(loss):
                    raise FmsmiError(f"loss became {loss} at {self.samples} samples: resume from the last "
                                      "checkpoint with a lower --lr or with --clip-grad")
                self.scheduler.step()
                previous = self.samples
                self.samples += batch.shape[0]
                self.next_batch = index + 1
                interval_samples += batch.shape[0]
                losses.append(loss)
                norms.append(norm)
                bar.update(batch.shape[0])
                if self.samples // session.log_every > previous // session.log_every:
                    now = time.monotonic()
                    self._interval(losses, norms, interval_samples / (now - interval_start), validation, bar)
                    losses, norms, interval_samples, interval_start = [], [], 0, time.monotonic()
                now = time.monotonic()
                if self.samples >= config.samples:
                    reason = "finished"
                elif self._stop_reason:
                    reason = self._stop_reason
                elif session.minutes is not None and now - self._session_start >= session.minutes * 60:
                    reason = "time budget"
                if reason:
                    break
                if now - last_checkpoint >= session.checkpoint_minutes * 60:
                    self.save_checkpoint()
                    last_checkpoint = now
        finally:
            loader.close()
            bar.close()
        if losses:
            self._interval(losses, norms, interval_samples / max(time.monotonic() - interval_start, 1e-9),
                           validation, None)
        self.save_checkpoint()
        scores = self._validate(validation)
        weights = self.export_weights(scores)
        self._log({"event": "stop", "reason": reason, "samples": self.samples, "val": scores,
                   "elapsed_hours": round(self.elapsed / 3600, 3), "weights": str(weights)})
        return {"reason": reason, "samples": self.samples, "planned": config.samples, "val": scores,
                "weights": str(weights), "checkpoint": str(self.checkpoint_path)}

    def _interval(self, losses, norms, throughput, validation, bar) -> None:
        scores = self._validate(validation)
        self._update_elapsed()
        self._log({"event": "interval", "samples": self.samples, "step": self.scheduler.last_epoch,
                   "loss": float(np.mean(losses)), "lr": self.optimizer.param_groups[0]["lr"],
                   "grad_norm": float(np.mean(norms)), "samples_per_s": round(throughput, 2),
                   "elapsed_hours": round(self.elapsed / 3600, 4), "val": scores})
        plot_curves(read_log(self.log_path), self.curves_path)
        if bar is not None:
            bar.set_postfix(loss=f"{np.mean(losses):.4f}", **{k: f"{v:.2f}" for k, v in scores.items()})

    def _progress_bar(self):
        from tqdm import tqdm
        return tqdm(total=self.config.samples, initial=self.samples, unit="sample", file=sys.stderr,
                    disable=not self.session.progress, dynamic_ncols=True, smoothing=0.05,
                    mininterval=1 if sys.stderr.isatty() else 60)


def measure_throughput(model: str = DEFAULT_MODEL, crop: int = 128, batch: int = 8, bf16: bool = False, op: str = "auto",
                       steps: int = 10, warmup: int = 2, log_fn: Callable[[str], None] = log.info) -> float:
    """Training samples per second of the network alone (a fixed random batch, no loader)."""
    config = TrainConfig(model=model, crop=crop, batch=batch)
    network = build_network(config, op)
    optimizer, _ = make_optimizer(network, config)
    batch_tensor = torch.rand(batch, 3, 3, crop, crop)
    for _ in range(warmup):
        train_step(network, optimizer, batch_tensor, bf16=bf16)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(network, optimizer, batch_tensor, bf16=bf16)
    rate = steps * batch / (time.perf_counter() - start)
    log_fn(f"{model} crop {crop} batch {batch} {'bf16' if bf16 else 'fp32'} op {op}: {rate:.1f} samples/s")
    return rate
