"""Native libraries built from this folder (CPU op, CUDA kernel, TensorRT plugin).

The libraries are installed into the package (``fmsmi/plugins/lib``) and located with
importlib.resources. ``FMSMI_NATIVE_DIR`` overrides the folder (development builds).
"""

from __future__ import annotations

import ctypes
import os
import sys
from importlib import resources
from pathlib import Path

from fmsmi.errors import NativeLibraryError

# Logical name -> file stem of the shared library.
LIBRARIES = {
    "cpu": "fmsmi_sepconv_cpu",
    "cuda": "fmsmi_sepconv_cuda",
    "tensorrt": "fmsmi_trt_plugin",
}


def _file_name(stem: str) -> str:
    if sys.platform == "win32":
        return f"{stem}.dll"
    if sys.platform == "darwin":
        return f"lib{stem}.dylib"
    return f"lib{stem}.so"


def library_path(name: str) -> Path:
    """Path of the native library ``name`` ("cpu", "cuda", "tensorrt"); raises if absent."""
    if name not in LIBRARIES:
        raise NativeLibraryError(f"library={name!r}: expected one of {sorted(LIBRARIES)}")
    file_name = _file_name(LIBRARIES[name])
    override = os.environ.get("FMSMI_NATIVE_DIR")
    if override:
        candidate = Path(override) / file_name
    else:
        candidate = Path(str(resources.files("fmsmi.plugins").joinpath("lib", file_name)))
    if not candidate.is_file():
        raise NativeLibraryError(
            f"native library {file_name} not found at {candidate}: "
            "reinstall fmsmi with `pip install .` (the build compiles it)"
        )
    return candidate


def load_library(name: str) -> ctypes.CDLL:
    """Load the native library ``name`` with ctypes; raises NativeLibraryError on failure."""
    path = library_path(name)
    try:
        return ctypes.CDLL(str(path))
    except OSError as exc:
        raise NativeLibraryError(f"native library {path} failed to load: {exc}") from exc
