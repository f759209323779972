"""Execution backends of the Interpolator and what can run on this machine.

- ``cpu``: the PyTorch network on the CPU with the native AdaptiveSepConv library (the
  embedded default).
- ``torch``: the PyTorch network on the best PyTorch device (CUDA when present, with the
  CUDA op), otherwise the CPU.
- ``trt``: a TensorRT FP16 engine with the AdaptiveSepConv plugin (NVIDIA GPUs).
"""

from __future__ import annotations

import importlib.util

from fmsmi.errors import ConfigError

BACKENDS = ("auto", "cpu", "torch", "trt")


def cpu_unavailable_reason() -> str | None:
    from fmsmi.engine.op import native_unavailable_reason
    reason = native_unavailable_reason()
    return None if reason is None else f"native op library unavailable ({reason}); the PyTorch reference op is used"


def cuda_unavailable_reason() -> str | None:
    import torch
    if not torch.cuda.is_available():
        if torch.version.cuda is None:
            return "PyTorch is a CPU-only build"
        return "no CUDA driver or GPU visible"
    return None


def trt_unavailable_reason() -> str | None:
    """None when the TensorRT backend can run here, else why not (one line)."""
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT (python package 'tensorrt') not installed"
    if importlib.util.find_spec("pycuda") is None:
        return "pycuda not installed"
    try:
        import pycuda.driver as driver
        driver.init()
        if driver.Device.count() == 0:
            return "no CUDA device"
    except Exception as exc:  # pycuda raises its own types, or ImportError without libcuda
        return f"pycuda cannot reach a CUDA driver ({type(exc).__name__}: {exc})"
    from fmsmi.plugins import library_path
    from fmsmi.errors import NativeLibraryError
    try:
        library_path("tensorrt")
    except NativeLibraryError as exc:
        return f"TensorRT plugin library not built ({exc})"
    return None


def resolve(name: str) -> str:
    """Turn a backend name (or "auto") into a concrete backend runnable here."""
    if name not in BACKENDS:
        raise ConfigError(f"backend={name!r}: expected one of {list(BACKENDS)}")
    if name != "auto":
        return name
    if trt_unavailable_reason() is None:
        return "trt"
    if cuda_unavailable_reason() is None:
        return "torch"
    return "cpu"


def availability() -> dict[str, str | None]:
    """Backend -> None when usable, else the one-line reason it is not."""
    return {"cpu": cpu_unavailable_reason(), "torch-cuda": cuda_unavailable_reason(),
            "trt": trt_unavailable_reason()}
