"""Benchmark evaluation through :class:`fmsmi.engine.Interpolator` (exactly what users get),
with frame averaging alongside.

Layouts (``FORMATS``):

- middlebury: ``other-data/<seq>/frame10.png, frame11.png`` + ``other-gt-interp/<seq>/frame10i11.png``,
  or the ``input/<seq>/`` + ``gt/<seq>/`` variant (sequences without a truth are skipped);
- ucf101: the DVF layout ``<id>/frame_00.png, frame_01_gt.png, frame_02.png``;
- vimeo90k: ``tri_testlist.txt`` + ``sequences/<a>/<b>/im1.png, im2.png (truth), im3.png``;
- davis: ``input/<seq>/frame10.png, frame11.png`` + ``gt/<seq>/frame10i11.png``.

Measures: :mod:`fmsmi.training.metrics` (PSNR on the uint8 output, SSIM on RGB, IE).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fmsmi.errors import ConfigError, InputError

from .data.images import read_image
from .data.vimeo import read_list
from .metrics import PSNR_CAP, interpolation_error, mean_psnr, psnr, ssim

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    name: str
    frame0: Path
    frame1: Path
    truth: Path

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame0, frame1, truth = (read_image(p) for p in (self.frame0, self.frame1, self.truth))
        if not frame0.shape == frame1.shape == truth.shape:
            raise InputError(f"{self.name}: frame sizes differ ({frame0.shape}, {frame1.shape}, truth {truth.shape})")
        return frame0, frame1, truth


def _folder(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise InputError(f"{path}: {what} folder not found")
    return path


def _input_gt(root: Path, inputs: str, truths: str) -> list[Sample]:
    """<root>/<inputs>/<seq>/frame10.png, frame11.png + <root>/<truths>/<seq>/frame10i11.png."""
    input_root, truth_root = _folder(root / inputs, "input"), _folder(root / truths, "ground-truth")
    samples = []
    for folder in sorted(p for p in input_root.iterdir() if p.is_dir()):
        truth = truth_root / folder.name / "frame10i11.png"
        if truth.is_file():
            samples.append(Sample(folder.name, folder / "frame10.png", folder / "frame11.png", truth))
    return samples


def middlebury(root: Path) -> list[Sample]:
    if (root / "other-data").is_dir() or (root / "other-gt-interp").is_dir():
        return _input_gt(root, "other-data", "other-gt-interp")
    return _input_gt(root, "input", "gt")


def davis(root: Path) -> list[Sample]:
    return _input_gt(root, "input", "gt")


def ucf101(root: Path) -> list[Sample]:
    return [Sample(folder.name, folder / "frame_00.png", folder / "frame_02.png", folder / "frame_01_gt.png")
            for folder in sorted(p for p in _folder(root, "UCF101").iterdir() if p.is_dir())
            if (folder / "frame_01_gt.png").is_file()]


def vimeo90k(root: Path) -> list[Sample]:
    return [Sample(f"{folder.parent.name}/{folder.name}", folder / "im1.png", folder / "im3.png", folder / "im2.png")
            for folder in read_list(_folder(root, "Vimeo90K"), "test")]


FORMATS: dict[str, Callable[[Path], list[Sample]]] = {
    "middlebury": middlebury, "ucf101": ucf101, "vimeo90k": vimeo90k, "davis": davis}


def find_samples(path: str | Path, layout: str) -> list[Sample]:
    if layout not in FORMATS:
        raise ConfigError(f"format={layout!r}: expected one of {sorted(FORMATS)}")
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: dataset folder not found")
    samples = FORMATS[layout](path)
    if not samples:
        raise InputError(f"{path}: no {layout} samples found (see `fmsmi eval --help` for the layout)")
    return samples


def average_frames(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    """The frame-averaging baseline, rounded half up like the engine's uint8 output."""
    return ((frame0.astype(np.uint16) + frame1.astype(np.uint16) + 1) // 2).astype(np.uint8)


def measure(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """PSNR (an exact match counts PSNR_CAP dB, so rows stay valid JSON), SSIM and IE."""
    return {"psnr": min(psnr(prediction, truth), PSNR_CAP), "ssim": ssim(prediction, truth),
            "ie": interpolation_error(prediction, truth)}


def summarize(rows: list[dict], key: str) -> dict[str, float]:
    return {"psnr": mean_psnr([row[key]["psnr"] for row in rows]),
            "ssim": float(np.mean([row[key]["ssim"] for row in rows])),
            "ie": float(np.mean([row[key]["ie"] for row in rows]))}


def evaluate(samples: Iterable[Sample], interpolate: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
             progress: Callable[[Iterable], Iterable] = lambda it: it) -> dict:
    """Per-sample rows and means for ``interpolate`` (uint8 frames in, uint8 frame out; None:
    frame averaging only) and for frame averaging. Times are the model's per-frame seconds."""
    rows = []
    for sample in progress(list(samples)):
        frame0, frame1, truth = sample.load()
        row = {"name": sample.name, "height": truth.shape[0], "width": truth.shape[1],
               "average": measure(average_frames(frame0, frame1), truth)}
        if interpolate is not None:
            start = time.perf_counter()
            prediction = interpolate(frame0, frame1)
            row["seconds"] = time.perf_counter() - start
            row["model"] = measure(prediction, truth)
        rows.append(row)
    summary = {"samples": len(rows), "average": summarize(rows, "average")}
    if interpolate is not None:
        summary["model"] = summarize(rows, "model")
        summary["seconds"] = float(np.mean([row["seconds"] for row in rows]))
    return {"summary": summary, "rows": rows}


def format_table(result: dict, title: str) -> str:
    summary = result["summary"]
    lines = [title, f"{'method':<18} {'PSNR dB':>8} {'SSIM':>7} {'IE':>7}"]
    entries = [("model", "model")] if "model" in summary else []
    for key, label in entries + [("average", "frame averaging")]:
        values = summary[key]
        lines.append(f"{label:<18} {values['psnr']:>8.2f} {values['ssim']:>7.4f} {values['ie']:>7.2f}")
    if "model" in summary:
        gain = summary["model"]["psnr"] - summary["average"]["psnr"]
        lines.append(f"{summary['samples']} samples; model {gain:+.2f} dB over frame averaging, "
                     f"{summary['seconds'] * 1000:.0f} ms per frame")
    else:
        lines.append(f"{summary['samples']} samples")
    return "\n".join(lines)
