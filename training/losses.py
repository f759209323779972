"""Training losses: Charbonnier on the output, optionally on each scale's synthesis too."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from fmsmi.errors import ConfigError

EPSILON = 1e-3


def charbonnier(prediction: torch.Tensor, target: torch.Tensor, epsilon: float = EPSILON) -> torch.Tensor:
    """mean(sqrt((prediction - target)^2 + epsilon^2)): a smooth L1, computed in fp32."""
    difference = prediction.float() - target.float()
    return torch.sqrt(difference * difference + epsilon * epsilon).mean()


def interpolation_loss(frame: torch.Tensor, target: torch.Tensor, scales: dict[int, torch.Tensor] | None = None,
                       scale_weight: float = 0.0) -> torch.Tensor:
    """Charbonnier(frame, target) + scale_weight * mean over levels of Charbonnier(I_level, target at level).

    ``scales`` are the per-level syntheses of ``VFIFMSMI.forward(..., return_scales=True)``;
    the target is area-downscaled to each level (the network downscales its inputs the same way).
    """
    if scale_weight < 0:
        raise ConfigError(f"scale_weight={scale_weight}: expected >= 0")
    loss = charbonnier(frame, target)
    if scale_weight and scales:
        terms = [charbonnier(synthesis, F.avg_pool2d(target, 2 ** level) if level else target)
                 for level, synthesis in scales.items()]
        loss = loss + scale_weight * torch.stack(terms).mean()
    return loss
