"""ctypes binding of the native CPU library (fmsmi.plugins, libfmsmi_sepconv_cpu).

The library releases the GIL for the duration of each call (ctypes does), so the op runs
in parallel with Python threads of the pipeline. Forward in fp32/fp16, backward in fp32.
"""

from __future__ import annotations

import ctypes
import functools

import torch

from fmsmi.errors import BackendUnavailable, FmsmiError
from fmsmi.plugins import load_library

_i64 = ctypes.c_int64
_ptr = ctypes.c_void_p
_DIMS = [_i64] * 6  # n, c, h, w, taps, dilation


@functools.cache
def library() -> ctypes.CDLL:
    lib = load_library("cpu")
    lib.fmsmi_sepconv_forward_f32.argtypes = [_ptr] * 4 + _DIMS + [ctypes.c_int]
    lib.fmsmi_sepconv_forward_f16.argtypes = [_ptr] * 4 + _DIMS + [ctypes.c_int]
    lib.fmsmi_sepconv_forward_scalar_f32.argtypes = [_ptr] * 4 + _DIMS + [ctypes.c_int]
    lib.fmsmi_sepconv_forward_scalar_f16.argtypes = [_ptr] * 4 + _DIMS + [ctypes.c_int]
    lib.fmsmi_sepconv_backward_f32.argtypes = [_ptr] * 7 + _DIMS + [ctypes.c_int]
    lib.fmsmi_sepconv_blend_forward_f32.argtypes = [_ptr] * 8 + _DIMS + [ctypes.c_int]
    for name in ("forward_f32", "forward_f16", "forward_scalar_f32", "forward_scalar_f16",
                 "backward_f32", "blend_forward_f32"):
        getattr(lib, f"fmsmi_sepconv_{name}").restype = ctypes.c_int
    lib.fmsmi_sepconv_last_error.restype = ctypes.c_char_p
    lib.fmsmi_sepconv_build_info.restype = ctypes.c_char_p
    return lib


def entry_point_unavailable_reason(symbol: str) -> str | None:
    """None when the library loads and exports ``symbol`` (an entry point added after the
    op, such as the fused synthesis), else a one-line reason."""
    try:
        lib = library()
    except BackendUnavailable as exc:
        return str(exc)
    if not hasattr(lib, symbol):
        return f"the native CPU library has no {symbol} (an older build: rebuild it)"
    return None


def entry_point(symbol: str, argtypes: list) -> ctypes._CFuncPtr:
    """The ctypes function ``symbol`` (int status) with ``argtypes``; BackendUnavailable
    with the reason when the library or the symbol is missing."""
    reason = entry_point_unavailable_reason(symbol)
    if reason is not None:
        raise BackendUnavailable(reason)
    fn = getattr(library(), symbol)
    if fn.argtypes is None:
        fn.argtypes = argtypes
        fn.restype = ctypes.c_int
    return fn


def build_info() -> str:
    return library().fmsmi_sepconv_build_info().decode()


# Threads used by every native call; 0 = all hardware threads. The CPU engine sets this
# so that the op and PyTorch's own pool do not oversubscribe the cores.
_threads = 0


def set_threads(count: int) -> None:
    global _threads
    _threads = int(count)


def _check(status: int, what: str) -> None:
    if status != 0:
        message = library().fmsmi_sepconv_last_error().decode()
        raise FmsmiError(f"native {what} failed (code {status}): {message}")


def _dims(img: torch.Tensor, taps: int, dilation: int) -> list[int]:
    n, c, h, w = img.shape
    return [n, c, h, w, taps, dilation]


def forward(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor, dilation: int,
            scalar: bool = False) -> torch.Tensor:
    """Forward on contiguous CPU tensors of one dtype (fp32 or fp16)."""
    img, kernel_v, kernel_h = (t.contiguous() for t in (img, kernel_v, kernel_h))
    out = torch.empty_like(img)
    suffix = "f16" if img.dtype == torch.float16 else "f32"
    name = f"forward_scalar_{suffix}" if scalar else f"forward_{suffix}"
    fn = getattr(library(), f"fmsmi_sepconv_{name}")
    status = fn(img.data_ptr(), kernel_v.data_ptr(), kernel_h.data_ptr(), out.data_ptr(),
                *_dims(img, kernel_v.shape[1], dilation), _threads)
    _check(status, name)
    return out


def backward(img, kernel_v, kernel_h, grad_out, dilation):
    img, kernel_v, kernel_h, grad_out = (t.contiguous() for t in (img, kernel_v, kernel_h, grad_out))
    grad_img = torch.empty_like(img)
    grad_v = torch.empty_like(kernel_v)
    grad_h = torch.empty_like(kernel_h)
    status = library().fmsmi_sepconv_backward_f32(
        img.data_ptr(), kernel_v.data_ptr(), kernel_h.data_ptr(), grad_out.data_ptr(),
        grad_img.data_ptr(), grad_v.data_ptr(), grad_h.data_ptr(),
        *_dims(img, kernel_v.shape[1], dilation), _threads)
    _check(status, "backward_f32")
    return grad_img, grad_v, grad_h


def blend_forward(frame0, kernel_v0, kernel_h0, frame1, kernel_v1, kernel_h1, occlusion, dilation):
    """Fused O*sep(frame0) + (1-O)*sep(frame1), fp32 contiguous CPU tensors."""
    tensors = [t.contiguous() for t in (frame0, kernel_v0, kernel_h0, frame1, kernel_v1, kernel_h1, occlusion)]
    out = torch.empty_like(tensors[0])
    status = library().fmsmi_sepconv_blend_forward_f32(
        *(t.data_ptr() for t in tensors), out.data_ptr(),
        *_dims(tensors[0], tensors[1].shape[1], dilation), _threads)
    _check(status, "blend_forward_f32")
    return out


class _NativeSepConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, img, kernel_v, kernel_h, dilation):
        ctx.save_for_backward(img, kernel_v, kernel_h)
        ctx.dilation = dilation
        return forward(img, kernel_v, kernel_h, dilation)

    @staticmethod
    def backward(ctx, grad_out):
        img, kernel_v, kernel_h = ctx.saved_tensors
        grads = backward(img, kernel_v, kernel_h, grad_out, ctx.dilation)
        return (*grads, None)


def adaptive_sepconv_native(img, kernel_v, kernel_h, dilation: int = 1) -> torch.Tensor:
    """Native CPU op; differentiable in fp32 (hand-written backward), forward-only in fp16."""
    if img.dtype == torch.float16:
        return forward(img, kernel_v, kernel_h, dilation)
    dtype = img.dtype
    if dtype != torch.float32:
        img, kernel_v, kernel_h = img.float(), kernel_v.float(), kernel_h.float()
    if torch.is_grad_enabled() and any(t.requires_grad for t in (img, kernel_v, kernel_h)):
        out = _NativeSepConv.apply(img, kernel_v, kernel_h, dilation)
    else:
        out = forward(img, kernel_v, kernel_h, dilation)
    return out.to(dtype)
