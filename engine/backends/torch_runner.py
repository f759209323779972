"""The PyTorch runner: the network in eager mode on the CPU (native op) or a CUDA device."""

from __future__ import annotations

import torch

from fmsmi.engine.network import VFIFMSMI


def prefers_channels_last(network: VFIFMSMI, device: torch.device) -> bool:
    """Whether the network's weights go channels-last for CPU inference: then every
    convolution runs and returns channels-last (oneDNN's native layout, no reorder around
    each layer) while the frames stay NCHW. For a config without a GridNet the only layout
    change left is the kernel head's output, which the fused synthesis reads contiguous:
    fast's forward at 640x360 took 22.4-22.9 vs 23.6-24.0 ms with fast-r1's four encoder
    levels (3 rounds, one thread), and 21.2 vs 21.7 ms (medians of 8 rounds) with fast-r2's
    two, where fewer convolutions are left to gain. Through
    the GridNet's resampling and additions the conversions cost more than they save (lite:
    41.2-43.6 vs 39.9-40.7 ms), so lite and base stay NCHW."""
    return device.type == "cpu" and network.refine is None


class TorchRunner:
    def __init__(self, network: VFIFMSMI, backend: str):
        use_cuda = backend == "torch" and torch.cuda.is_available()
        self.device = torch.device("cuda" if use_cuda else "cpu")
        self.dtype = torch.float16 if use_cuda else torch.float32
        self.network = network.to(self.device, self.dtype).eval()
        if prefers_channels_last(self.network, self.device):
            self.network = self.network.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        out = self.network(frame0.to(self.device, self.dtype), frame1.to(self.device, self.dtype))
        return out.float()
