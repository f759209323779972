"""From the PyTorch network to a TensorRT engine, and the checks in between.

- :mod:`fmsmi.export.onnx_export`: torch -> ONNX (inputs ``frame0``/``frame1``, output
  ``frame``, dynamic N/H/W; each AdaptiveSepConv call is one ``fmsmi::AdaptiveSepConv`` node).
- :mod:`fmsmi.export.fp16`: the FP16-typed graph for TensorRT 11's strongly typed networks.
- :mod:`fmsmi.export.reference_eval`: the graph run by ``onnx.reference.ReferenceEvaluator``
  with a NumPy AdaptiveSepConv, compared with the PyTorch model (PSNR).
- :mod:`fmsmi.export.trt_build`: engine build with the plugin, optimization profile, timing
  cache and the engine cache.

Dependencies: this package imports ``fmsmi.engine`` (never the player); ``onnx``,
``onnxscript`` and ``tensorrt`` are imported by the modules that need them, so importing
``fmsmi.export`` itself is cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "export_onnx": "fmsmi.export.onnx_export",
    "export_model": "fmsmi.export.onnx_export",
    "convert_to_fp16": "fmsmi.export.fp16",
    "compare_with_torch": "fmsmi.export.reference_eval",
    "build_engine": "fmsmi.export.trt_build",
    "load_or_build_engine": "fmsmi.export.trt_build",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fmsmi.export' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
