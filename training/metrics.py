"""Image-quality measures on 8-bit RGB frames, as the interpolation literature reports them.

- PSNR: 10 log10(255^2 / MSE), MSE over all pixels and the three RGB channels of the uint8
  output; one value per frame, averaged over a dataset (inf for identical frames; see
  :data:`PSNR_CAP` for averages).
- SSIM: Wang et al. 2004 with an 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03,
  L = 255, on each RGB channel separately ('valid' windows only, no padding), averaged over
  channels and pixels.
- IE: the Middlebury interpolation error as the mean absolute difference on 0-255 (RGB).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from fmsmi.errors import ConfigError

PSNR_CAP = 100.0  # dB given to an exact match when averaging over a dataset


def _pair(prediction: np.ndarray, truth: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    for name, image in (("prediction", prediction), ("truth", truth)):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ConfigError(f"{name}: expected an HxWx3 uint8 array, got "
                              f"{getattr(image, 'shape', type(image).__name__)} {getattr(image, 'dtype', '')}")
    if prediction.shape != truth.shape:
        raise ConfigError(f"prediction.shape={prediction.shape}: expected truth's shape {truth.shape}")
    as_tensor = lambda image: torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).double()
    return as_tensor(prediction), as_tensor(truth)


def psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two HxWx3 uint8 frames; math.inf when they are identical."""
    a, b = _pair(prediction, truth)
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def interpolation_error(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Middlebury IE as mean |prediction - truth| on 0-255 over pixels and RGB channels."""
    a, b = _pair(prediction, truth)
    return float((a - b).abs().mean())


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The normalized 1-D Gaussian; the 2-D window is its outer product (applied separably)."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    return g / g.sum()


_WINDOW = gaussian_window()


def _blur(x: torch.Tensor) -> torch.Tensor:
    """'valid' Gaussian filtering of (3,H,W), separably (rows then columns)."""
    size = _WINDOW.numel()
    rows = F.conv2d(x[None], _WINDOW.to(x.dtype).view(1, 1, size, 1).expand(3, 1, size, 1), groups=3)
    return F.conv2d(rows, _WINDOW.to(x.dtype).view(1, 1, 1, size).expand(3, 1, 1, size), groups=3)[0]


def ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM over RGB channels (Gaussian 11x11, sigma 1.5, 'valid' windows).

    Computed in float32 on [0,1] values after subtracting the truth's mean (which SSIM's
    variance and covariance terms do not see; the means are restored for the luminance term).
    """
    a, b = _pair(prediction, truth)
    size = _WINDOW.numel()
    if min(a.shape[1:]) < size:
        raise ConfigError(f"frame size {tuple(a.shape[1:])}: SSIM needs at least {size}x{size}")
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    offset = b.mean(dim=(1, 2), keepdim=True)
    a, b = ((a - offset) / 255).float(), ((b - offset) / 255).float()
    mu_a, mu_b = _blur(a), _blur(b)
    var_a = _blur(a * a) - mu_a * mu_a
    var_b = _blur(b * b) - mu_b * mu_b
    cov = _blur(a * b) - mu_a * mu_b
    mean_a, mean_b = mu_a + offset.float() / 255, mu_b + offset.float() / 255
    ssim_map = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / ((mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.double().mean())


def mean_psnr(values) -> float:
    """Average of per-frame PSNRs with exact matches counted as PSNR_CAP."""
    values = [min(v, PSNR_CAP) for v in values]
    return float(np.mean(values)) if values else math.nan


def psnr_batch(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR of (N,3,H,W) float frames in [0,1] after rounding both to 8 bits (as a
    uint8 output would be), capped at PSNR_CAP: the training's validation measure."""
    a = prediction.detach().float().mul(255).add_(0.5).clamp_(0, 255).floor_()
    b = truth.detach().float().mul(255).add_(0.5).clamp_(0, 255).floor_()
    mse = ((a - b) ** 2).flatten(1).mean(1).double()
    return (10 * torch.log10(255.0 ** 2 / mse)).clamp(max=PSNR_CAP)
