"""Synthesized frames to packed uint8 pixels in one native pass (``fmsmi_planar_to_packed_u8``).

The function is :func:`fmsmi.engine.frames.to_uint8`'s formula, trunc(clamp(x * 255 + 0.5,
0, 255)) in fp32, planar (C,H,W) -> packed (H,W,C), with an opaque alpha channel on request
(what a display uploads). Bit-identical to the PyTorch composition (tests/test_network.py).
"""

from __future__ import annotations

import ctypes

import torch

_ptr = ctypes.c_void_p
_i64 = ctypes.c_int64
_SYMBOL = "fmsmi_planar_to_packed_u8"


def unavailable_reason() -> str | None:
    """None when the native library has the packing, else a one-line reason."""
    from . import native
    return native.entry_point_unavailable_reason(_SYMBOL)


def packed_u8(planar: torch.Tensor, alpha: bool = False) -> torch.Tensor:
    """CPU float32 (C,H,W) -> (H,W,C) uint8, or (H,W,C+1) with alpha 255."""
    from . import native
    planar = planar.contiguous()
    channels, height, width = planar.shape
    out = torch.empty(height, width, channels + int(alpha), dtype=torch.uint8)
    fn = native.entry_point(_SYMBOL, [_ptr, _ptr] + [_i64] * 4)
    native._check(fn(planar.data_ptr(), out.data_ptr(), channels, height, width, out.shape[2]), _SYMBOL)
    return out


__all__ = ["packed_u8", "unavailable_reason"]
