"""A deliberately naive float64 evaluation of the AdaptiveSepConv formula (test oracle)."""

from __future__ import annotations

import torch


def naive_sepconv(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor, dilation: int) -> torch.Tensor:
    img, kernel_v, kernel_h = img.double(), kernel_v.double(), kernel_h.double()
    _, _, height, width = img.shape
    taps = kernel_v.shape[1]
    reach = (taps - 1) // 2
    out = torch.zeros_like(img)
    ys = torch.arange(height)
    xs = torch.arange(width)
    for i in range(taps):
        rows = (ys + dilation * (i - reach)).clamp(0, height - 1)
        for j in range(taps):
            cols = (xs + dilation * (j - reach)).clamp(0, width - 1)
            shifted = img[:, :, rows][:, :, :, cols]
            out += kernel_v[:, i:i + 1] * kernel_h[:, j:j + 1] * shifted
    return out
