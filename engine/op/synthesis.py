"""Fused synthesis of one scale: upsample + kernels + two AdaptiveSepConvs + occlusion blend.

A kernel head predicts ``raw`` (N, 4F+1, h, w), often at a coarser level than the frames
(N, C, H, W) it synthesizes. The synthesis is defined by :func:`reference_synthesis`:

    u = bilinear(raw) at (H, W)      (F.interpolate, align_corners=False; u = raw if same size)
    V0, H0, V1, H1 = u[kF:(k+1)F] + unit centre tap (k = 0..3),   O = sigmoid(u[4F])
    out = O * sepconv(frame0, V0, H0) + (1 - O) * sepconv(frame1, V1, H1)

:func:`fused_synthesis` computes it in one pass of the native CPU library (inference, fp32),
reading ``raw`` at its own resolution: the composition spends most of its time writing and
re-reading the upsampled kernels, which the fused op never materializes.
"""

from __future__ import annotations

import ctypes

import torch
import torch.nn.functional as F

from fmsmi.errors import ConfigError

from .reference import adaptive_sepconv_reference

_i64 = ctypes.c_int64
_ptr = ctypes.c_void_p
_SYMBOL = "fmsmi_synthesis_forward_f32"


def raw_channels(taps: int) -> int:
    """Channels of a kernel head's prediction: V0, H0, V1, H1 (F taps each) and occlusion."""
    return 4 * taps + 1


def reference_synthesis(frame0: torch.Tensor, frame1: torch.Tensor, raw: torch.Tensor, taps: int,
                        dilation: int = 1, sepconv=adaptive_sepconv_reference) -> torch.Tensor:
    """The definition, as a PyTorch composition (differentiable with the reference sepconv)."""
    if raw.shape[-2:] != frame0.shape[-2:]:
        raw = F.interpolate(raw, size=frame0.shape[-2:], mode="bilinear", align_corners=False)
    identity = torch.zeros(1, taps, 1, 1, dtype=raw.dtype, device=raw.device)
    identity[0, taps // 2] = 1.0
    v0, h0, v1, h1 = (raw[:, k * taps:(k + 1) * taps] + identity for k in range(4))
    occlusion = torch.sigmoid(raw[:, 4 * taps:])
    return occlusion * sepconv(frame0, v0, h0, dilation) + (1 - occlusion) * sepconv(frame1, v1, h1, dilation)


def unavailable_reason() -> str | None:
    """None when the native library has the fused synthesis, else a one-line reason."""
    from . import native
    return native.entry_point_unavailable_reason(_SYMBOL)


def _function():
    from . import native
    return native.entry_point(_SYMBOL, [_ptr] * 4 + [_i64] * 8 + [ctypes.c_int])


def validate(frame0: torch.Tensor, frame1: torch.Tensor, raw: torch.Tensor, taps: int,
             dilation: int) -> None:
    """Raise ConfigError naming the argument when the inputs break the fused op's contract."""
    for name, tensor in (("frame0", frame0), ("frame1", frame1), ("raw", raw)):
        if not isinstance(tensor, torch.Tensor):
            raise ConfigError(f"{name}: expected a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() != 4:
            raise ConfigError(f"{name}.shape={tuple(tensor.shape)}: expected 4 dimensions (N,C,H,W)")
        if tensor.dtype != torch.float32:
            raise ConfigError(f"{name}.dtype={tensor.dtype}: expected torch.float32")
        if tensor.device.type != "cpu":
            raise ConfigError(f"{name}.device={tensor.device}: expected the CPU")
        if min(tensor.shape) < 1:
            raise ConfigError(f"{name}.shape={tuple(tensor.shape)}: expected every dimension >= 1")
    if not isinstance(taps, int) or isinstance(taps, bool) or taps < 1 or taps % 2 == 0:
        raise ConfigError(f"taps={taps!r}: expected an odd integer >= 1")
    if not isinstance(dilation, int) or isinstance(dilation, bool) or dilation < 1:
        raise ConfigError(f"dilation={dilation!r}: expected an integer >= 1")
    if frame1.shape != frame0.shape:
        raise ConfigError(f"frame1.shape={tuple(frame1.shape)}: expected frame0's shape {tuple(frame0.shape)}")
    if raw.shape[:2] != (frame0.shape[0], raw_channels(taps)):
        raise ConfigError(f"raw.shape={tuple(raw.shape)}: expected (N, 4*taps+1, h, w) = "
                          f"({frame0.shape[0]}, {raw_channels(taps)}, h, w)")


def fused_synthesis(frame0: torch.Tensor, frame1: torch.Tensor, raw: torch.Tensor, taps: int,
                    dilation: int = 1) -> torch.Tensor:
    """:func:`reference_synthesis` in one native pass: CPU fp32, forward only -> (N,C,H,W)."""
    from . import native
    validate(frame0, frame1, raw, taps, dilation)
    fn = _function()
    frame0, frame1, raw = frame0.contiguous(), frame1.contiguous(), raw.contiguous()
    out = torch.empty_like(frame0)
    n, c, h, w = frame0.shape
    status = fn(frame0.data_ptr(), frame1.data_ptr(), raw.data_ptr(), out.data_ptr(),
                n, c, h, w, raw.shape[2], raw.shape[3], taps, dilation, native._threads)
    native._check(status, _SYMBOL)
    return out


__all__ = ["fused_synthesis", "raw_channels", "reference_synthesis", "unavailable_reason", "validate"]
