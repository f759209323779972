"""Motion pre-alignment in one native pass (``fmsmi_motion_align_f32``).

The function is :func:`fmsmi.engine.network.motion.align` (the definition, PyTorch ops, used
for training and export); :func:`fused_align` computes it in the native CPU library for fp32
inference: ~10x less time at 640x360, because the PyTorch composition spends it on block
means over stacks of candidate maps and on full-resolution grids. The two agree up to
candidates whose costs tie to rounding (tests/test_motion.py).
"""

from __future__ import annotations

import ctypes

import torch

from fmsmi.errors import ConfigError

_i64 = ctypes.c_int64
_ptr = ctypes.c_void_p
_SYMBOL = "fmsmi_motion_align_f32"


def unavailable_reason() -> str | None:
    """None when the native library has the fused alignment, else a one-line reason."""
    from . import native
    return native.entry_point_unavailable_reason(_SYMBOL)


def _function():
    from . import native
    return native.entry_point(_SYMBOL, [_ptr] * 4 + [_i64] * 8 + [ctypes.c_float])


def fused_align(frame0: torch.Tensor, frame1: torch.Tensor, config) -> tuple[torch.Tensor, torch.Tensor]:
    """``align(frame0, frame1, config)`` natively: CPU fp32 (N,C>=3,H,W), forward only."""
    from . import native
    for name, tensor in (("frame0", frame0), ("frame1", frame1)):
        if tensor.dtype != torch.float32 or tensor.device.type != "cpu" or tensor.dim() != 4 or tensor.shape[1] < 3:
            raise ConfigError(f"{name}: dtype={tensor.dtype} device={tensor.device} shape={tuple(tensor.shape)}: "
                              "expected a CPU float32 (N,C>=3,H,W) tensor")
    if frame1.shape != frame0.shape:
        raise ConfigError(f"frame1.shape={tuple(frame1.shape)}: expected frame0's shape {tuple(frame0.shape)}")
    frame0, frame1 = frame0.contiguous(), frame1.contiguous()
    if frame0.shape[0] == 1:
        # one image: both results in one (1, 2C, H, W) buffer, so the network's stem reads
        # the pair without concatenating it (model.channel_stack)
        _, channels, height, width = frame0.shape
        aligned0, aligned1 = torch.empty(1, 2 * channels, height, width).chunk(2, dim=1)
    else:
        aligned0, aligned1 = torch.empty_like(frame0), torch.empty_like(frame1)
    status = _function()(frame0.data_ptr(), frame1.data_ptr(), aligned0.data_ptr(), aligned1.data_ptr(),
                         *frame0.shape, config.coarse_level, config.radius, config.fine_level, config.window,
                         config.bias)
    native._check(status, _SYMBOL)
    return aligned0, aligned1


__all__ = ["fused_align", "unavailable_reason"]
