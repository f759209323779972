"""The embeddable API: ``Interpolator(model, weights, backend).interpolate(frame0, frame1)``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from fmsmi.errors import BackendUnavailable, ConfigError

from . import backends
from .defaults import DEFAULT_MODEL
from .frames import pad_to_multiple, to_tensor, to_uint8
from .network import VFIFMSMI, get_config
from .weights import apply_weights, shipped_weights

log = logging.getLogger(__name__)


def build_network(model: str, weights: str | Path | None = None) -> tuple[VFIFMSMI, Path | None]:
    """The network for config ``model`` with ``weights`` (None: the shipped file, if any),
    and the path of the weights loaded (None when the network is untrained)."""
    config = get_config(model)
    network = VFIFMSMI(config)
    path = Path(weights) if weights is not None else shipped_weights(model)
    if path is None:
        log.warning("no trained weights ship for model %r: the untrained network is frame averaging", model)
    else:
        apply_weights(network, path)
        log.info("loaded weights %s", path)
    return network.eval(), path


class Interpolator:
    """Synthesizes the frame halfway between two frames.

    ``interpolate`` takes two HxWx3 uint8 frames (numpy arrays or torch tensors, any size)
    and returns the middle frame of the same type. ``interpolate_tensor`` works on
    (N,3,H,W) float tensors in [0,1] on ``self.device``.
    """

    def __init__(self, model: str = DEFAULT_MODEL, weights: str | Path | None = None, backend: str = "auto",
                 threads: int | None = None):
        self.config = get_config(model)
        self.backend = backends.resolve(backend)
        if threads is not None:
            if threads < 1:
                raise ConfigError(f"threads={threads}: expected an integer >= 1")
            torch.set_num_threads(threads)
        if self.backend == "trt":
            reason = backends.trt_unavailable_reason()
            if reason:
                raise BackendUnavailable(f"backend='trt': {reason}")
            from .backends.trt import TensorRTRunner
            self.runner = TensorRTRunner(model, weights)
            self.weights = self.runner.weights
        else:
            from .backends.torch_runner import TorchRunner
            network, self.weights = build_network(model, weights)
            self.runner = TorchRunner(network, self.backend)
        self.device = self.runner.device
        log.info("Interpolator: model=%s backend=%s device=%s", model, self.backend, self.device)

    @property
    def has_trained_weights(self) -> bool:
        return self.weights is not None

    @torch.inference_mode()
    def interpolate_tensor(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        if frame0.shape != frame1.shape:
            raise ConfigError(f"frame1.shape={tuple(frame1.shape)}: expected frame0's shape {tuple(frame0.shape)}")
        height, width = frame0.shape[-2:]
        # TensorRT engines are built for multiples of config.multiple; PyTorch pads less
        multiple = self.config.multiple if self.backend == "trt" else self.config.inference_multiple
        out = self.runner(pad_to_multiple(frame0, multiple), pad_to_multiple(frame1, multiple))
        return out[..., :height, :width]

    def interpolate(self, frame0, frame1, alpha: bool = False):
        """Middle frame of two HxWx3 uint8 frames (numpy in -> numpy out, torch in -> torch out);
        ``alpha``: HxWx4 with an opaque alpha channel (what a display uploads), in the same pass."""
        tensor0 = to_tensor(frame0, "frame0", self.device)
        tensor1 = to_tensor(frame1, "frame1", self.device)
        if tensor0.shape != tensor1.shape:
            raise ConfigError(f"frame1 shape {tuple(frame1.shape)}: expected frame0's shape {tuple(frame0.shape)}")
        out = to_uint8(self.interpolate_tensor(tensor0, tensor1), alpha)
        return out.cpu().numpy() if isinstance(frame0, np.ndarray) else out
