"""VFI_FMSMI: multi-scale adaptive separable kernels, per-scale occlusion, GridNet fusion.

Input: frame0, frame1 (N,3,H,W) in [0,1], H and W multiples of ``config.multiple``
(the Interpolator pads outside the network). Output: the middle frame (N,3,H,W).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from fmsmi.engine.op import alignment, synthesis

from .blocks import ConvBlock, Down, Up, conv, upsample
from .config import HeadConfig, NetworkConfig
from .gridnet import GridNet
from .motion import align, halve

SepConv = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


class KernelHead(nn.Module):
    """Predicts V0, H0, V1, H1 (F taps each) and the occlusion logit for one scale.

    The last convolution starts at zero and the kernels are offset by a centred unit tap,
    so an untrained head copies each frame and blends them 50/50 (frame averaging).
    :meth:`predict` returns the raw prediction (N, 4F+1, h, w) at the features' resolution;
    :meth:`kernels` turns it into the kernels and occlusion at the synthesis size.
    """

    def __init__(self, in_channels: int, head: HeadConfig, body: bool = True, kernel: int = 3):
        super().__init__()
        self.head = head
        self.body = nn.Sequential(conv(in_channels, in_channels), nn.PReLU(in_channels)) if body else nn.Identity()
        self.out = nn.Conv2d(in_channels, 4 * head.taps + 1, kernel, padding=kernel // 2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        identity = torch.zeros(1, head.taps, 1, 1)
        identity[0, head.taps // 2] = 1.0
        self.register_buffer("identity", identity, persistent=False)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(features))

    def kernels(self, raw: torch.Tensor, size: tuple[int, int]):
        if raw.shape[-2:] != size:
            raw = upsample(raw, size)
        taps = self.head.taps
        kernels = [raw[:, k * taps:(k + 1) * taps] + self.identity.to(raw.dtype) for k in range(4)]
        occlusion = torch.sigmoid(raw[:, 4 * taps:])
        return kernels, occlusion

    def forward(self, features: torch.Tensor, size: tuple[int, int]):
        return self.kernels(self.predict(features), size)


def channel_stack(frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
    """``torch.cat([frame0, frame1], 1)``; for one image whose frame1 already follows frame0
    in memory (the fused alignment writes them so), a view instead of a copy."""
    n, c, h, w = frame0.shape
    adjacent = (n == 1 and frame1.shape == frame0.shape and frame1.dtype == frame0.dtype
                and frame0.is_contiguous() and frame1.is_contiguous()
                and not (frame0.requires_grad or frame1.requires_grad)
                and frame0.untyped_storage().data_ptr() == frame1.untyped_storage().data_ptr()
                and frame1.data_ptr() == frame0.data_ptr() + c * h * w * frame0.element_size())
    if adjacent:
        return frame0.as_strided((1, 2 * c, h, w), (2 * c * h * w, h * w, w, 1))
    return torch.cat([frame0, frame1], 1)


def pyramid(frame: torch.Tensor, levels) -> dict[int, torch.Tensor]:
    """Area-downscaled copies of ``frame`` at each of ``levels`` (level l: 1/2^l per side),
    each computed from the one above it (the same values as avg_pool2d(frame, 2^l))."""
    images = {0: frame}
    for level in range(1, max(levels, default=0) + 1):
        images[level] = halve(images[level - 1])
    return {level: images[level] for level in levels}


class VFIFMSMI(nn.Module):
    def __init__(self, config: NetworkConfig, sepconv: SepConv | None = None):
        super().__init__()
        self.config = config
        self._sepconv = sepconv
        first, last = config.first_level, config.deepest_level
        stem_channels = 6
        self.stem = nn.Sequential()
        for width in config.stem_widths:
            self.stem.append(Down(stem_channels, width))
            stem_channels = width
        self.encoder = nn.ModuleDict()
        self.downs = nn.ModuleDict()
        for level in range(first, last + 1):
            width = config.width_at(level)
            in_channels = stem_channels if level == first else width
            if level > first:
                self.downs[str(level)] = Down(config.width_at(level - 1), width)
            self.encoder[str(level)] = ConvBlock(in_channels, width, config.convs_per_block)
        self.ups = nn.ModuleDict()
        self.decoder = nn.ModuleDict()
        for level in range(last - 1, config.decoder_last_level - 1, -1):
            width = config.width_at(level)
            self.ups[str(level)] = Up(config.width_at(level + 1), width)
            self.decoder[str(level)] = ConvBlock(width, width, config.convs_per_block)
        self.heads = nn.ModuleList(
            KernelHead(config.width_at(self._feature_level(head.level)), head, config.head_body, config.head_kernel)
            for head in config.heads)
        self.refine = GridNet(config.refine_widths, config.refine_first_level, config.refine_columns,
                              config.refine_convs, {head.level: 3 for head in config.heads},
                              up_coarse=config.refine_up_coarse) if config.refine_widths else None

    def _feature_level(self, level: int) -> int:
        """Decoder (or encoder, below the decoder) level a head reads its features from."""
        return max(level, self.config.decoder_last_level)

    def set_sepconv(self, sepconv: SepConv) -> None:
        self._sepconv = sepconv

    def sepconv(self, img, kernel_v, kernel_h, dilation):
        if self._sepconv is None:
            from fmsmi.engine.op import adaptive_sepconv
            return adaptive_sepconv(img, kernel_v, kernel_h, dilation)
        return self._sepconv(img, kernel_v, kernel_h, dilation)

    def features(self, frame0: torch.Tensor, frame1: torch.Tensor) -> dict[int, torch.Tensor]:
        config = self.config
        x = self.stem(channel_stack(frame0, frame1))
        skips: dict[int, torch.Tensor] = {}
        for level in range(config.first_level, config.deepest_level + 1):
            if level > config.first_level:
                x = self.downs[str(level)](x)
            x = self.encoder[str(level)](x)
            skips[level] = x
        features = dict(skips)
        for level in range(config.deepest_level - 1, config.decoder_last_level - 1, -1):
            x = self.ups[str(level)](x, skips[level].shape[-2:])
            x = self.decoder[str(level)](x + skips[level])
            features[level] = x
        return features

    def _native_inference(self, frame: torch.Tensor) -> bool:
        """CPU fp32 inference with the default sepconv: where the native fused ops apply.

        Training (autograd), export (an injected sepconv), tracing and other devices or dtypes
        keep the PyTorch compositions; both compute the same functions (tests/test_synthesis.py,
        tests/test_motion.py)."""
        if self._sepconv is not None or torch.is_grad_enabled():
            return False
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return False
        return frame.device.type == "cpu" and frame.dtype == torch.float32

    def fused_synthesis_applies(self, frame: torch.Tensor) -> bool:
        """Whether synthesize() takes the native fused op."""
        return self._native_inference(frame) and synthesis.unavailable_reason() is None

    def align(self, frame0: torch.Tensor, frame1: torch.Tensor):
        """Motion pre-alignment (motion.align), natively for CPU fp32 inference."""
        motion = self.config.motion
        if (self._native_inference(frame0) and min(frame0.shape[-2:]) >= 2 ** motion.coarse_level
                and alignment.unavailable_reason() is None):
            return alignment.fused_align(frame0, frame1, motion)
        return align(frame0, frame1, motion)

    def predict_raw(self, features: dict[int, torch.Tensor]) -> list[torch.Tensor]:
        """Each head's raw prediction, in ``self.heads`` order.

        Heads without a body that read the same feature map are one convolution with their
        output weights stacked, split by channels afterwards: the same function and
        parameters, one pass over the features instead of one per head (lite's three heads
        at 1/4: 5.6-6.0 vs 7.1-7.5 ms at 640x360 on one core).
        """
        raws: list[torch.Tensor | None] = [None] * len(self.heads)
        shared: dict[int, list[int]] = {}
        for index, head_module in enumerate(self.heads):
            level = self._feature_level(head_module.head.level)
            if isinstance(head_module.body, nn.Identity):
                shared.setdefault(level, []).append(index)
            else:
                raws[index] = head_module.predict(features[level])
        for level, indices in shared.items():
            outs = [self.heads[index].out for index in indices]
            stacked = F.conv2d(features[level], torch.cat([out.weight for out in outs]),
                               torch.cat([out.bias for out in outs]), padding=outs[0].padding)
            for index, raw in zip(indices, stacked.split([out.out_channels for out in outs], dim=1)):
                raws[index] = raw
        return raws

    def synthesize(self, frame0, frame1, features) -> dict[int, torch.Tensor]:
        """Per-scale synthesis I_s = O * sep(I0_s) + (1 - O) * sep(I1_s)."""
        fused = self.fused_synthesis_applies(frame0)
        levels = [head_module.head.level for head_module in self.heads]
        images0, images1 = pyramid(frame0, levels), pyramid(frame1, levels)
        outputs: dict[int, torch.Tensor] = {}
        for head_module, raw in zip(self.heads, self.predict_raw(features)):
            head = head_module.head
            image0, image1 = images0[head.level], images1[head.level]
            if fused:
                outputs[head.level] = synthesis.fused_synthesis(image0, image1, raw, head.taps, head.dilation)
            else:
                outputs[head.level] = self.compose(head_module, image0, image1, raw)
        return outputs

    def compose(self, head_module: KernelHead, image0, image1, raw) -> torch.Tensor:
        """One scale's synthesis from PyTorch ops and the sepconv (training, export, reference)."""
        (v0, h0, v1, h1), occlusion = head_module.kernels(raw, image0.shape[-2:])
        warped0 = self.sepconv(image0, v0, h0, head_module.head.dilation)
        warped1 = self.sepconv(image1, v1, h1, head_module.head.dilation)
        return occlusion * warped0 + (1 - occlusion) * warped1

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, return_scales: bool = False):
        if self.config.motion is not None:
            frame0, frame1 = self.align(frame0, frame1)
        features = self.features(frame0, frame1)
        scales = self.synthesize(frame0, frame1, features)
        finest = min(scales)
        coarse = scales[finest]
        if self.refine is None:  # one synthesis at full resolution (the config checks it)
            return (coarse, scales) if return_scales else coarse
        if finest:
            coarse = upsample(coarse, frame0.shape[-2:])
        frame = self.refine(scales, base=coarse)
        return (frame, scales) if return_scales else frame
