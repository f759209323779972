"""Synthesized frames to 8-bit pixels in one native pass.

- :func:`packed_u8` (``fmsmi_planar_to_packed_u8``): :func:`fmsmi.engine.frames.to_uint8`'s
  formula, trunc(clamp(x * 255 + 0.5, 0, 255)) in fp32, planar (C,H,W) -> packed (H,W,C),
  with an opaque alpha channel on request (what a display uploads). Bit-identical to the
  PyTorch composition (tests/test_network.py).
- :func:`yuv420p_u8` (``fmsmi_planar_to_yuv420p_u8``): planar RGB straight into an encoder's
  8-bit 4:2:0 planes with a matrix's luma weights, limited or full range (the textbook
  formulas, chroma from each 2x2 block's mean; fmsmi_sepconv.h). It replaces packed RGB bytes
  + swscale for the export's synthesized frames: one pass (0.6 vs 1.5 ms at 640x360), and no
  rounding to 8-bit RGB on the way.
"""

from __future__ import annotations

import ctypes

import numpy as np
import torch

from fmsmi.errors import ConfigError

_ptr = ctypes.c_void_p
_i64 = ctypes.c_int64
_SYMBOL = "fmsmi_planar_to_packed_u8"
_YUV_SYMBOL = "fmsmi_planar_to_yuv420p_u8"


def unavailable_reason() -> str | None:
    """None when the native library has the packing, else a one-line reason."""
    from . import native
    return native.entry_point_unavailable_reason(_SYMBOL)


def yuv_unavailable_reason() -> str | None:
    """None when the native library writes 4:2:0 planes, else a one-line reason."""
    from . import native
    return native.entry_point_unavailable_reason(_YUV_SYMBOL)


def packed_u8(planar: torch.Tensor, alpha: bool = False) -> torch.Tensor:
    """CPU float32 (C,H,W) -> (H,W,C) uint8, or (H,W,C+1) with alpha 255."""
    from . import native
    planar = planar.contiguous()
    channels, height, width = planar.shape
    out = torch.empty(height, width, channels + int(alpha), dtype=torch.uint8)
    fn = native.entry_point(_SYMBOL, [_ptr, _ptr] + [_i64] * 4)
    native._check(fn(planar.data_ptr(), out.data_ptr(), channels, height, width, out.shape[2]), _SYMBOL)
    return out


def _check_plane(name: str, plane: np.ndarray, height: int, width: int) -> None:
    if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.ndim != 2:
        raise ConfigError(f"{name}: expected a 2-D uint8 numpy array")
    if plane.shape != (height, width) or plane.strides[1] != 1 or plane.strides[0] < width:
        raise ConfigError(f"{name}.shape={plane.shape} strides={plane.strides}: expected ({height}, {width}) "
                          "with contiguous rows")
    if not plane.flags.writeable:
        raise ConfigError(f"{name}: expected a writable array")


def yuv420p_u8(planar: torch.Tensor, luma: np.ndarray, cb: np.ndarray, cr: np.ndarray, kr: float, kb: float,
               full_range: bool) -> None:
    """CPU float32 RGB (3,H,W) in [0,1] -> the 8-bit planes luma (H,W), cb and cr
    (ceil(H/2), ceil(W/2)) of a 4:2:0 frame, written in place (rows may be padded)."""
    from . import native
    if planar.dim() != 3 or planar.shape[0] != 3 or planar.dtype != torch.float32 or planar.device.type != "cpu":
        raise ConfigError(f"planar: {tuple(planar.shape)} {planar.dtype} on {planar.device}: "
                          "expected a (3,H,W) float32 CPU tensor")
    planar = planar.contiguous()
    height, width = planar.shape[1:]
    _check_plane("luma", luma, height, width)
    for name, plane in (("cb", cb), ("cr", cr)):
        _check_plane(name, plane, (height + 1) // 2, (width + 1) // 2)
    if cb.strides != cr.strides:
        raise ConfigError(f"cr.strides={cr.strides}: expected cb's {cb.strides}")
    fn = native.entry_point(_YUV_SYMBOL, [_ptr, _i64, _i64, _ptr, _i64, _ptr, _ptr, _i64,
                                          ctypes.c_float, ctypes.c_float, ctypes.c_int])
    status = fn(planar.data_ptr(), height, width, luma.ctypes.data, luma.strides[0], cb.ctypes.data,
                cr.ctypes.data, cb.strides[0], kr, kb, int(full_range))
    native._check(status, _YUV_SYMBOL)


__all__ = ["packed_u8", "unavailable_reason", "yuv420p_u8", "yuv_unavailable_reason"]
