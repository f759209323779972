"""fmsmi — real-time video frame interpolation (VFI_FMSMI).

The package is one namespace over the repository's top-level folders:
``fmsmi.engine`` (network, op, Interpolator), ``fmsmi.export`` (ONNX/TensorRT),
``fmsmi.player`` (decode, display, file export, CLI), ``fmsmi.plugins`` (native
libraries) and ``fmsmi.training``.
"""

__version__ = "0.1.0"
