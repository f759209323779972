"""Convolution blocks shared by the encoder/decoder and the GridNet."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)


class ConvBlock(nn.Sequential):
    """``count`` conv3x3+PReLU layers, the first mapping in_channels -> out_channels."""

    def __init__(self, in_channels: int, out_channels: int, count: int):
        layers: list[nn.Module] = []
        for index in range(count):
            layers += [conv(in_channels if index == 0 else out_channels, out_channels), nn.PReLU(out_channels)]
        super().__init__(*layers)


class Down(nn.Sequential):
    """Stride-2 conv + PReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(conv(in_channels, out_channels, stride=2), nn.PReLU(out_channels))


def upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class Up(nn.Module):
    """conv + PReLU at the coarse level, then bilinear x2 (4x fewer FLOPs than conv after up)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = conv(in_channels, out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return upsample(self.act(self.conv(x)), size)


def _prelu_convs(in_channels: int, out_channels: int, count: int, stride: int = 1) -> nn.Sequential:
    """PReLU-conv repeated ``count`` times; the first conv may change width and stride."""
    layers: list[nn.Module] = []
    for index in range(count):
        channels = in_channels if index == 0 else out_channels
        layers += [nn.PReLU(channels), conv(channels, out_channels, stride if index == 0 else 1)]
    return nn.Sequential(*layers)


class Lateral(nn.Module):
    """GridNet lateral block: residual (PReLU-conv) x count."""

    def __init__(self, channels: int, count: int):
        super().__init__()
        self.body = _prelu_convs(channels, channels, count)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class GridDown(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, count: int):
        super().__init__(*_prelu_convs(in_channels, out_channels, count, stride=2))


class GridUp(nn.Module):
    """(PReLU-conv) x count and a bilinear upsampling to the finer row: convolved after the
    upsampling, or before it (``coarse``: 4x fewer FLOPs, as :class:`Up`)."""

    def __init__(self, in_channels: int, out_channels: int, count: int, coarse: bool = False):
        super().__init__()
        self.body = _prelu_convs(in_channels, out_channels, count)
        self.coarse = coarse

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if self.coarse:
            return upsample(self.body(x), size)
        return self.body(upsample(x, size))
