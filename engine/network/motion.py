"""Motion pre-alignment: a symmetric block-matching field that brings both frames to the
middle frame's geometry before the kernels see them.

The kernels reach a few pixels at full resolution (lite: +-2 px at level 0); large motion
reaches the output only through the coarse scales, blurred. A field ``u`` estimated at the
middle frame (``frame0(x - u) ~ frame1(x + u)``, bilateral matching as in frame-rate
up-conversion) moves ``frame0`` forward and ``frame1`` back by the half motion, so what is
left for the kernels is the field's error, not the motion. The field is not learned: a
coarse exhaustive search on grey levels, then level by level the best +-1 pixel residual
after warping both levels by the field so far; smoothed and upsampled. A small cost per
pixel of motion keeps flat and ambiguous regions still (docs/motion.md).

Everything is tensor operations (slices, pooling, ``grid_sample``, ``argmin``), so the
network exports to ONNX with it and the same field is computed in training and inference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import MotionConfig


# A cost per pixel of refinement step, far below any real difference of block means (grey
# levels in [0, 1]): it only decides ties, in favour of the field found so far.
TIE_BREAK = 1e-4


def grey(frame: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) RGB -> (N,1,H,W) luma (BT.601 weights)."""
    return 0.299 * frame[:, 0:1] + 0.587 * frame[:, 1:2] + 0.114 * frame[:, 2:3]


def halve(image: torch.Tensor) -> torch.Tensor:
    """2x2 area average, avg_pool2d(image, 2) (sizes round down), as pairs of rows then pairs
    of columns: ~6x faster than avg_pool2d on the CPU for 3-channel frames (1.8 vs 11.2 ms
    at 1280x736). The network's pyramid uses it too."""
    height, width = image.shape[-2] // 2 * 2, image.shape[-1] // 2 * 2
    rows = image[..., 0:height:2, :width] + image[..., 1:height:2, :width]
    return (rows[..., 0::2] + rows[..., 1::2]) * 0.25


def box(cost: torch.Tensor, window: int) -> torch.Tensor:
    """Mean over the window x window neighbourhood inside the image (the block of block
    matching), from running sums along each axis: the cost does not grow with the window."""
    return _window_mean(_window_mean(cost, window, -2), window, -1)


def _window_mean(values: torch.Tensor, window: int, dim: int) -> torch.Tensor:
    size = values.shape[dim]
    half = window // 2
    sums = torch.cat((torch.zeros_like(values.narrow(dim, 0, 1)), values.cumsum(dim)), dim=dim)
    index = torch.arange(size, device=values.device)
    low = (index - half).clamp(min=0)
    high = (index + half + 1).clamp(max=size)
    count = (high - low).to(values.dtype)
    shape = [1] * values.dim()
    shape[dim] = size
    total = sums.index_select(dim, high) - sums.index_select(dim, low)
    return total / count.view(shape)


def candidates(radius: int, dtype: torch.dtype, device) -> torch.Tensor:
    """(K, 2) integer half-motions (dy, dx) with |dy|, |dx| <= radius, row-major."""
    steps = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack((dy.reshape(-1), dx.reshape(-1)), dim=1)


def shifts(image: torch.Tensor, radius: int) -> torch.Tensor:
    """(N,K,h,w): ``image`` at x + table[k] for the K candidates of ``candidates(radius)``;
    replicate border."""
    size = 2 * radius + 1
    count, _, height, width = image.shape
    patches = F.unfold(F.pad(image, (radius,) * 4, mode="replicate"), size)
    return patches.view(count, size * size, height, width)


def coarse_search(grey0: torch.Tensor, grey1: torch.Tensor, config: MotionConfig) -> torch.Tensor:
    """Exhaustive bilateral search: (N,2,h,w) integer half-motion at the coarse level."""
    radius = config.radius
    # frame0 at x - table[k] is shifts' flipped order, frame1 at x + table[k] its own
    cost = box((shifts(grey0, radius).flip(1) - shifts(grey1, radius)).abs(), config.window)
    table = candidates(radius, grey0.dtype, grey0.device)
    cost = cost + config.bias * table.norm(dim=1).view(1, -1, 1, 1)
    best = cost.min(dim=1).indices                             # (N,h,w)
    return table[best].permute(0, 3, 1, 2)                     # (N,2,h,w)


def base_grid(height: int, width: int, dtype: torch.dtype, device) -> torch.Tensor:
    """(1,2,H,W) pixel coordinates (y, x)."""
    ys = torch.arange(height, dtype=dtype, device=device).view(1, 1, height, 1).expand(1, 1, height, width)
    xs = torch.arange(width, dtype=dtype, device=device).view(1, 1, 1, width).expand(1, 1, height, width)
    return torch.cat((ys, xs), dim=1)


def sample(image: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``image`` at pixel positions (N,2,H,W) (y, x), bilinear; replicate border."""
    height, width = image.shape[-2:]
    y = positions[:, 0] * (2.0 / max(height - 1, 1)) - 1.0
    x = positions[:, 1] * (2.0 / max(width - 1, 1)) - 1.0
    return F.grid_sample(image, torch.stack((x, y), dim=-1), mode="bilinear", padding_mode="border",
                         align_corners=True)


def refine(grey0: torch.Tensor, grey1: torch.Tensor, motion: torch.Tensor, window: int) -> torch.Tensor:
    """The field plus the best residual in {-1,0,1}^2 pixels at this level: both frames are
    warped by the field first, so one residual means one motion over the whole window."""
    grid = base_grid(*grey0.shape[-2:], grey0.dtype, grey0.device)
    warped0 = sample(grey0, grid - motion)
    warped1 = sample(grey1, grid + motion)
    table = candidates(1, motion.dtype, motion.device)                      # (9,2)
    cost = box((shifts(warped0, 1).flip(1) - shifts(warped1, 1)).abs(), window)
    # where costs tie (flat regions: all zero), keep the field as it is
    cost = cost + TIE_BREAK * table.norm(dim=1).view(1, -1, 1, 1)
    best = cost.min(dim=1).indices                                          # (N,h,w)
    return motion + table[best].permute(0, 3, 1, 2)


def half_motion(frame0: torch.Tensor, frame1: torch.Tensor, config: MotionConfig) -> torch.Tensor:
    """(N,2,H,W) half-motion u at the middle frame in full-resolution pixels (y, x):
    ``frame0(x - u)`` and ``frame1(x + u)`` show the same content."""
    levels = [grey(torch.cat((frame0, frame1), dim=0))]
    for _ in range(config.coarse_level):
        levels.append(halve(levels[-1]))
    count = frame0.shape[0]
    level = config.coarse_level
    motion = coarse_search(levels[level][:count], levels[level][count:], config)
    while level > config.fine_level:
        level -= 1
        fine0, fine1 = levels[level][:count], levels[level][count:]
        motion = F.interpolate(box(motion, 3), size=fine0.shape[-2:], mode="bilinear", align_corners=False) * 2.0
        motion = refine(fine0, fine1, motion, config.window)
    return F.interpolate(box(motion, 3), size=frame0.shape[-2:], mode="bilinear",
                         align_corners=False) * 2.0 ** config.fine_level


def align(frame0: torch.Tensor, frame1: torch.Tensor, config: MotionConfig):
    """Both frames moved to the middle frame's geometry: frame0(x - u), frame1(x + u).
    The field is a search, not learned: no gradient flows through it. Frames smaller than
    one coarse block are left as they are."""
    if min(frame0.shape[-2:]) < 2 ** config.coarse_level:
        return frame0, frame1
    with torch.no_grad():
        motion = half_motion(frame0, frame1, config)
        grid = base_grid(*frame0.shape[-2:], frame0.dtype, frame0.device)
    return sample(frame0, grid - motion), sample(frame1, grid + motion)
