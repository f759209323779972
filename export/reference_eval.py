"""Run the exported graph without TensorRT and compare it with the PyTorch model.

``onnx.reference.ReferenceEvaluator`` runs every standard node; :class:`AdaptiveSepConv`
runs the custom one with NumPy, exactly the formula of DESIGN.md §2 (fp32 accumulation
and integer index math, even for fp16 inputs). :func:`compare_with_torch` evaluates the
graph on a pair of frames and reports the PSNR against the PyTorch network in fp32
(targets: >= 50 dB for the fp32 graph, >= 40 dB for the fp16 graph).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun
from onnx.reference.ops.op_conv import Conv as _StandardConv

from fmsmi.engine.network import VFIFMSMI
from fmsmi.engine.op.reference import adaptive_sepconv_reference
from fmsmi.errors import ConfigError, InputError

from .onnx_export import DOMAIN, INPUT_NAMES, metadata

TARGET_DB = {"fp32": 50.0, "fp16": 40.0}


def sepconv_numpy(img: np.ndarray, kernel_v: np.ndarray, kernel_h: np.ndarray, dilation: int = 1) -> np.ndarray:
    """AdaptiveSepConv in NumPy: fp32 accumulation, replicate border; returns img's dtype.

    out[n,c,y,x] = sum_i V[n,i,y,x] * (sum_j H[n,j,y,x] * img[n,c,clampY(y+d(i-r)),clampX(x+d(j-r))])
    """
    taps = kernel_v.shape[1]
    if taps % 2 == 0 or kernel_h.shape != kernel_v.shape or kernel_v.shape[2:] != img.shape[2:]:
        raise ConfigError(f"AdaptiveSepConv shapes img {img.shape}, kernel_v {kernel_v.shape}, "
                          f"kernel_h {kernel_h.shape}: expected (N,C,H,W), (N,F,H,W), (N,F,H,W) with F odd")
    height, width = img.shape[2:]
    reach = dilation * (taps - 1) // 2
    # Integer clamped indices: exactly clampY/clampX for any reach (wider than the image too).
    rows = np.clip(np.arange(-reach, height + reach), 0, height - 1)
    cols = np.clip(np.arange(-reach, width + reach), 0, width - 1)
    padded = img.astype(np.float32)[:, :, rows][:, :, :, cols]
    kernel_v = kernel_v.astype(np.float32)
    kernel_h = kernel_h.astype(np.float32)
    out = np.zeros(img.shape, np.float32)
    row = np.empty(img.shape, np.float32)
    for i in range(taps):
        row.fill(0.0)
        top = i * dilation
        for j in range(taps):
            left = j * dilation
            row += kernel_h[:, j:j + 1] * padded[:, :, top:top + height, left:left + width]
        out += kernel_v[:, i:i + 1] * row
    return out.astype(img.dtype, copy=False)


class AdaptiveSepConv(OpRun):
    """The ``fmsmi::AdaptiveSepConv`` node for ``ReferenceEvaluator``."""

    op_domain = DOMAIN

    def _run(self, img, kernel_v, kernel_h, kernel_size=None, dilation=None, plugin_version=None,
             plugin_namespace=None):
        if kernel_size is not None and kernel_size != kernel_v.shape[1]:
            raise ConfigError(f"AdaptiveSepConv kernel_size={kernel_size}: expected kernel_v.shape[1]="
                              f"{kernel_v.shape[1]}")
        return (sepconv_numpy(img, kernel_v, kernel_h, int(dilation or 1)),)


class Conv(_StandardConv):
    """``Conv`` as TensorRT runs it in fp16: fp16 tensors, fp32 accumulation, fp16 result.

    (NumPy has no fp16 BLAS: the standard reference would accumulate in fp16 and take
    minutes for the ``base`` graph.)
    """

    op_domain = ""

    def _run(self, X, W, B=None, **attributes):
        if X.dtype != np.float16:
            return super()._run(X, W, B, **attributes)
        (out,) = super()._run(X.astype(np.float32), W.astype(np.float32),
                              None if B is None else B.astype(np.float32), **attributes)
        return (out.astype(np.float16),)


class GatherElements(OpRun):
    """``GatherElements`` by ``np.take_along_axis``: the standard reference goes through
    ``np.choose``, which takes at most 64 choices (the motion search gathers from whole
    frames)."""

    op_domain = ""

    def _run(self, data, indices, axis=None):
        axis = int(axis or 0)
        indices = np.where(indices < 0, indices + data.shape[axis], indices)
        return (np.take_along_axis(data, indices, axis=axis),)


class GridSample(OpRun):
    """``GridSample`` (2-D, bilinear, border padding: what the motion pre-alignment emits),
    vectorised; the standard reference loops over pixels in Python and does not take opset
    16's mode name "bilinear"."""

    op_domain = ""

    def _run(self, X, grid, mode=None, padding_mode=None, align_corners=None):
        mode = mode.decode() if isinstance(mode, bytes) else (mode or "linear")
        padding_mode = padding_mode.decode() if isinstance(padding_mode, bytes) else (padding_mode or "zeros")
        if mode not in ("bilinear", "linear") or padding_mode != "border" or X.ndim != 4:
            raise ConfigError(f"GridSample mode={mode!r} padding_mode={padding_mode!r} on a {X.ndim}-D input: "
                              "expected 2-D bilinear with border padding")
        height, width = X.shape[-2:]
        grid = grid.astype(np.float32)

        def unnormalise(coordinate, size):
            if align_corners:
                return (coordinate + 1) * 0.5 * (size - 1)
            return ((coordinate + 1) * size - 1) * 0.5

        x = np.clip(unnormalise(grid[..., 0], width), 0, width - 1)      # (N,h,w)
        y = np.clip(unnormalise(grid[..., 1], height), 0, height - 1)
        x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
        fx, fy = (x - x0)[:, None], (y - y0)[:, None]
        batch = np.arange(X.shape[0])[:, None, None]
        data = X.astype(np.float32)

        def at(rows, cols):
            return data[batch, :, rows, cols].transpose(0, 3, 1, 2)        # (N,C,h,w)

        top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
        bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
        return ((top * (1 - fy) + bottom * fy).astype(X.dtype),)


def evaluator(model) -> ReferenceEvaluator:
    return ReferenceEvaluator(model, new_ops=[AdaptiveSepConv, Conv, GatherElements, GridSample])


def run_onnx(model, frame0: np.ndarray, frame1: np.ndarray, session: ReferenceEvaluator | None = None) -> np.ndarray:
    """The graph's ``frame`` for (N,3,H,W) float inputs, as float32."""
    from onnx import helper

    dtype = helper.tensor_dtype_to_np_dtype(model.graph.input[0].type.tensor_type.elem_type)
    session = session or evaluator(model)
    feeds = {INPUT_NAMES[0]: frame0.astype(dtype), INPUT_NAMES[1]: frame1.astype(dtype)}
    (out,) = session.run(None, feeds)
    return out.astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB of ``a`` against ``b`` (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def torch_reference(network: VFIFMSMI, frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    """The PyTorch network in fp32 with the reference op (``network`` is not modified)."""
    network = copy.deepcopy(network).float().cpu().eval()
    network.set_sepconv(adaptive_sepconv_reference)
    with torch.no_grad():
        out = network(torch.from_numpy(frame0).float(), torch.from_numpy(frame1).float())
    return out.numpy()


@dataclass(frozen=True)
class Comparison:
    precision: str
    size: tuple[int, int]          # (width, height)
    psnr_db: float
    max_abs: float
    target_db: float

    @property
    def passed(self) -> bool:
        return self.psnr_db >= self.target_db

    def __str__(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return (f"{self.precision} graph vs PyTorch fp32 at {self.size[0]}x{self.size[1]}: "
                f"PSNR {self.psnr_db:.2f} dB, max |diff| {self.max_abs:.2e} "
                f"({verdict}, target >= {self.target_db:.0f} dB)")


def compare_with_torch(model, network: VFIFMSMI, frame0: np.ndarray, frame1: np.ndarray,
                       session: ReferenceEvaluator | None = None) -> Comparison:
    """Evaluate ``model`` (fp32 or fp16 graph) and ``network`` on (N,3,H,W) frames in [0,1]."""
    multiple = network.config.multiple
    if frame0.shape != frame1.shape or frame0.ndim != 4 or frame0.shape[1] != 3:
        raise ConfigError(f"frame shapes {frame0.shape}, {frame1.shape}: expected two equal (N,3,H,W)")
    height, width = frame0.shape[2:]
    if height % multiple or width % multiple:
        raise ConfigError(f"frame size {width}x{height}: expected multiples of {multiple} (the model's stride)")
    precision = metadata(model).get("fmsmi.precision", "fp32")
    expected = torch_reference(network, frame0, frame1)
    got = run_onnx(model, frame0, frame1, session)
    return Comparison(precision, (width, height), psnr(got, expected), float(np.abs(got - expected).max()),
                      TARGET_DB.get(precision, TARGET_DB["fp32"]))


def frames_from_video(path: str | Path, size: tuple[int, int], start: int = 30, gap: int = 2
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``start`` and ``start + gap`` of a video, centre-cropped to ``size`` (width, height),
    as (1,3,H,W) float32 in [0,1]."""
    import av

    path = Path(path)
    width, height = size
    try:
        with av.open(str(path)) as container:
            wanted, frames = {start, start + gap}, {}
            for index, frame in enumerate(container.decode(video=0)):
                if index in wanted:
                    frames[index] = frame.to_ndarray(format="rgb24")
                if len(frames) == 2:
                    break
    except (OSError, av.FFmpegError) as exc:
        raise InputError(f"{path}: cannot decode video ({exc})") from exc
    if len(frames) < 2:
        raise InputError(f"{path}: fewer than {start + gap + 1} frames")
    out = []
    for index in sorted(frames):
        rgb = frames[index]
        if rgb.shape[0] < height or rgb.shape[1] < width:
            raise InputError(f"{path}: frames {rgb.shape[1]}x{rgb.shape[0]} smaller than the crop {width}x{height}")
        top, left = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
        crop = rgb[top:top + height, left:left + width]
        out.append(np.ascontiguousarray(crop.transpose(2, 0, 1)[None], np.float32) / 255.0)
    return out[0], out[1]


def synthetic_frames(size: tuple[int, int], shift: tuple[int, int] = (3, 2), seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and the same texture moved by ``shift`` (dx, dy) pixels."""
    width, height = size
    dx, dy = shift
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 8 + 4, width // 8 + 4, generator=generator)
    texture = torch.nn.functional.interpolate(coarse, scale_factor=8, mode="bicubic", align_corners=False)
    texture = texture.clamp(0, 1)[..., 8:8 + height + abs(dy), 8:8 + width + abs(dx)]
    frame0 = texture[..., :height, :width]
    frame1 = texture[..., abs(dy):abs(dy) + height, abs(dx):abs(dx) + width]
    return frame0.contiguous().numpy(), frame1.contiguous().numpy()
