"""ctypes binding of the CUDA kernel (libfmsmi_sepconv_cuda) for torch CUDA tensors.

Runs on PyTorch's current CUDA stream. Forward only, fp32 and fp16 I/O with fp32
accumulation; the per-pixel math is the header shared with the CPU library.
"""

from __future__ import annotations

import ctypes
import functools

import torch

from fmsmi.errors import BackendUnavailable, FmsmiError
from fmsmi.plugins import load_library

_i64 = ctypes.c_int64
_DTYPES = {torch.float32: 0, torch.float16: 1}


@functools.cache
def library() -> ctypes.CDLL:
    lib = load_library("cuda")
    lib.fmsmi_sepconv_cuda_forward.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int] + [_i64] * 6 + [ctypes.c_void_p]
    lib.fmsmi_sepconv_cuda_forward.restype = ctypes.c_int
    lib.fmsmi_sepconv_cuda_error_string.argtypes = [ctypes.c_int]
    lib.fmsmi_sepconv_cuda_error_string.restype = ctypes.c_char_p
    return lib


def unavailable_reason() -> str | None:
    """None when the CUDA op can run here, else a one-line reason."""
    if not torch.cuda.is_available():
        return "no CUDA device visible to PyTorch (CPU-only build or no NVIDIA driver)"
    try:
        library()
    except BackendUnavailable as exc:
        return str(exc)
    return None


def adaptive_sepconv_cuda(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor,
                          dilation: int = 1) -> torch.Tensor:
    reason = unavailable_reason()
    if reason:
        raise BackendUnavailable(f"backend='cuda': {reason}")
    dtype = img.dtype
    compute = dtype if dtype in _DTYPES else torch.float32
    img, kernel_v, kernel_h = (t.to(compute).contiguous() for t in (img, kernel_v, kernel_h))
    out = torch.empty_like(img)
    n, c, h, w = img.shape
    stream = torch.cuda.current_stream(img.device).cuda_stream
    status = library().fmsmi_sepconv_cuda_forward(
        img.data_ptr(), kernel_v.data_ptr(), kernel_h.data_ptr(), out.data_ptr(), _DTYPES[compute],
        n, c, h, w, kernel_v.shape[1], dilation, ctypes.c_void_p(stream))
    if status != 0:
        message = library().fmsmi_sepconv_cuda_error_string(status).decode()
        raise FmsmiError(f"CUDA AdaptiveSepConv failed (code {status}): {message}")
    return out.to(dtype)
