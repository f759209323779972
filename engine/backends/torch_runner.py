"""The PyTorch runner: the network in eager mode on the CPU (native op) or a CUDA device."""

from __future__ import annotations

import torch

from fmsmi.engine.network import VFIFMSMI


class TorchRunner:
    def __init__(self, network: VFIFMSMI, backend: str):
        use_cuda = backend == "torch" and torch.cuda.is_available()
        self.device = torch.device("cuda" if use_cuda else "cpu")
        self.dtype = torch.float16 if use_cuda else torch.float32
        self.network = network.to(self.device, self.dtype).eval()

    @torch.inference_mode()
    def __call__(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        out = self.network(frame0.to(self.device, self.dtype), frame1.to(self.device, self.dtype))
        return out.float()
