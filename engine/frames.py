"""Frame conversions and padding shared by the backends (uint8 HWC <-> float NCHW)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fmsmi.errors import ConfigError


def to_tensor(frame, name: str, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 (numpy or torch) -> (1,3,H,W) float32 in [0,1] on ``device``."""
    if isinstance(frame, np.ndarray):
        frame = torch.from_numpy(np.ascontiguousarray(frame))
    if not isinstance(frame, torch.Tensor):
        raise ConfigError(f"{name}: expected a numpy array or torch tensor, got {type(frame).__name__}")
    if frame.dim() != 3 or frame.shape[2] != 3 or frame.dtype != torch.uint8:
        raise ConfigError(f"{name}: expected an HxWx3 uint8 frame, got shape {tuple(frame.shape)} "
                          f"dtype {frame.dtype}")
    return frame.to(device).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def to_uint8(frame: torch.Tensor, alpha: bool = False) -> torch.Tensor:
    """(1,C,H,W) float in [0,1] -> HxWxC uint8 tensor (rounded, clamped); ``alpha``: HxWx(C+1)
    with an opaque alpha channel. CPU fp32 frames take one native pass (op.pixels), others
    the PyTorch ops; both compute the same bytes."""
    from .op import pixels
    if frame.device.type == "cpu" and frame.dtype == torch.float32 and pixels.unavailable_reason() is None:
        return pixels.packed_u8(frame[0], alpha)
    out = frame[0].mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
    if alpha:
        out = torch.cat([out, torch.full_like(out[..., :1], 255)], dim=2)
    return out.contiguous()


def pad_to_multiple(frame: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad the bottom/right of (N,C,H,W) so H and W are multiples of ``multiple``."""
    height, width = frame.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not pad_h and not pad_w:
        return frame
    if pad_h >= height or pad_w >= width:
        # replicate padding wider than the image: gather with clamped indices
        rows = torch.arange(height + pad_h, device=frame.device).clamp_(max=height - 1)
        cols = torch.arange(width + pad_w, device=frame.device).clamp_(max=width - 1)
        return frame.index_select(2, rows).index_select(3, cols)
    return F.pad(frame, (0, pad_w, 0, pad_h), mode="replicate")
