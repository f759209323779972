"""AdaptiveSepConv: one contract, several implementations.

    out[n,c,y,x] = sum_{i<F} sum_{j<F} V[n,i,y,x] * H[n,j,y,x]
                   * img[n,c, clampY(y+d*(i-r)), clampX(x+d*(j-r))],   r = (F-1)/2

Backends: "reference" (PyTorch, differentiable), "native" (C++ CPU library, hand-written
backward in fp32), "cuda" (CUDA kernel, forward), "auto" (native on CPU tensors, cuda on
CUDA tensors, reference where those are unavailable).
"""

from __future__ import annotations

import functools
import logging

import torch

from fmsmi.errors import BackendUnavailable, ConfigError

from .reference import adaptive_sepconv_reference

log = logging.getLogger(__name__)

BACKENDS = ("auto", "reference", "native", "cuda")
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def validate(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor, dilation: int) -> None:
    """Raise ConfigError naming the argument when the inputs break the op's contract."""
    for name, tensor in (("img", img), ("kernel_v", kernel_v), ("kernel_h", kernel_h)):
        if not isinstance(tensor, torch.Tensor):
            raise ConfigError(f"{name}: expected a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() != 4:
            raise ConfigError(f"{name}.shape={tuple(tensor.shape)}: expected 4 dimensions (N,C,H,W)")
        if tensor.dtype not in _FLOAT_DTYPES:
            raise ConfigError(f"{name}.dtype={tensor.dtype}: expected a floating dtype")
    taps = kernel_v.shape[1]
    if taps < 1 or taps % 2 == 0:
        raise ConfigError(f"kernel_v.shape[1]={taps}: expected an odd number of taps F >= 1")
    if kernel_h.shape != kernel_v.shape:
        raise ConfigError(f"kernel_h.shape={tuple(kernel_h.shape)}: expected kernel_v's shape {tuple(kernel_v.shape)}")
    n, _, h, w = img.shape
    if (kernel_v.shape[0], kernel_v.shape[2], kernel_v.shape[3]) != (n, h, w):
        raise ConfigError(f"kernel_v.shape={tuple(kernel_v.shape)}: expected (N,F,H,W) = ({n},F,{h},{w}) to match img")
    if min(img.shape) < 1:
        raise ConfigError(f"img.shape={tuple(img.shape)}: expected every dimension >= 1")
    if kernel_v.dtype != img.dtype or kernel_h.dtype != img.dtype:
        raise ConfigError(f"kernel dtypes ({kernel_v.dtype}, {kernel_h.dtype}): expected img's dtype {img.dtype}")
    if kernel_v.device != img.device or kernel_h.device != img.device:
        raise ConfigError(f"kernel devices ({kernel_v.device}, {kernel_h.device}): expected img's device {img.device}")
    if not isinstance(dilation, int) or isinstance(dilation, bool) or dilation < 1:
        raise ConfigError(f"dilation={dilation!r}: expected an integer >= 1")


@functools.cache
def native_unavailable_reason() -> str | None:
    """None when the native CPU library loads, else a one-line reason."""
    from . import native
    try:
        native.library()
    except BackendUnavailable as exc:
        return str(exc)
    return None


def resolve_backend(backend: str, device: torch.device) -> str:
    """Turn "auto" into a concrete backend for tensors on ``device``."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}: expected one of {list(BACKENDS)}")
    if backend != "auto":
        return backend
    if device.type == "cuda":
        from .cuda import unavailable_reason
        return "cuda" if unavailable_reason() is None else "reference"
    if native_unavailable_reason() is None:
        return "native"
    _warn_fallback()
    return "reference"


@functools.cache
def _warn_fallback() -> None:
    log.warning("AdaptiveSepConv: native library unavailable (%s); using the PyTorch reference",
                native_unavailable_reason())


def adaptive_sepconv(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor,
                     dilation: int = 1, backend: str = "auto") -> torch.Tensor:
    """Apply per-pixel separable kernels (N,F,H,W) to ``img`` (N,C,H,W) -> (N,C,H,W)."""
    validate(img, kernel_v, kernel_h, dilation)
    chosen = resolve_backend(backend, img.device)
    if chosen == "reference":
        return adaptive_sepconv_reference(img, kernel_v, kernel_h, dilation)
    if chosen == "native":
        if img.device.type != "cpu":
            raise ConfigError(f"backend='native': expected CPU tensors, got device {img.device}")
        from .native import adaptive_sepconv_native
        return adaptive_sepconv_native(img, kernel_v, kernel_h, dilation)
    if img.device.type != "cuda":
        raise ConfigError(f"backend='cuda': expected CUDA tensors, got device {img.device}")
    from .cuda import adaptive_sepconv_cuda
    return adaptive_sepconv_cuda(img, kernel_v, kernel_h, dilation)


__all__ = ["BACKENDS", "adaptive_sepconv", "adaptive_sepconv_reference", "resolve_backend", "validate"]
