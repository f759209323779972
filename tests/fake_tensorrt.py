"""A stand-in ``tensorrt`` module, just enough to drive ``trt_build.build_engine`` and
``load_or_build_engine`` without TensorRT or a GPU (tests/test_export.py, tests/test_faults.py).

The builder returns b"engine" and counts its builds (``trt.builds``); ``trt.calls`` records
what the build was given (whether the parsed ONNX graph is FP16-typed, the network creation
flags, the builder flags, the optimization profiles). The runtime deserializes b"engine" to
"ENGINE", anything else to None, and raises TypeError for b"raise" (what TensorRT's bindings
do for some malformed inputs). TensorRT 11 has no BuilderFlag.FP16: a version "11.*" fake has
none either.
"""

from __future__ import annotations

import types


def fake_tensorrt(version: str = "10.13.0.35") -> types.ModuleType:
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.builds = 0
    trt.calls = calls = {"parsed": [], "flags": [], "builder_flags": [], "profiles": []}

    class ILogger:
        Severity = types.SimpleNamespace(INTERNAL_ERROR=0, ERROR=1, WARNING=2, INFO=3, VERBOSE=4)

        def __init__(self):
            pass

    class Config:
        def set_memory_pool_limit(self, *args): pass
        def set_flag(self, flag): calls["builder_flags"].append(flag)
        def add_optimization_profile(self, profile): calls["profiles"].append(profile.shapes)
        def create_timing_cache(self, data): return data
        def set_timing_cache(self, cache, ignore_mismatch): pass
        def get_timing_cache(self): return types.SimpleNamespace(serialize=lambda: b"timing")

    class Optimization:
        def __init__(self): self.shapes = {}
        def set_shape(self, name, *shapes): self.shapes[name] = shapes

    class Builder:
        def __init__(self, logger): pass
        def create_network(self, flags): calls["flags"].append(flags); return object()
        def create_builder_config(self): return Config()
        def create_optimization_profile(self): return Optimization()

        def build_serialized_network(self, network, config):
            trt.builds += 1
            return b"engine"

    class OnnxParser:
        num_errors = 0
        def __init__(self, network, logger): pass

        def parse_from_file(self, path):
            import onnx
            from fmsmi.export import fp16
            calls["parsed"].append(fp16.is_fp16_graph(onnx.load(path)))
            return True

    class Runtime:
        def __init__(self, logger): pass

        def deserialize_cuda_engine(self, data):
            if data == b"raise":
                raise TypeError("deserialize_cuda_engine(): incompatible function arguments")
            return "ENGINE" if data == b"engine" else None

    trt.ILogger, trt.Builder, trt.OnnxParser, trt.Runtime = ILogger, Builder, OnnxParser, Runtime
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=5)
    trt.BuilderFlag = types.SimpleNamespace(FP16="FP16") if version.startswith("10.") else types.SimpleNamespace()
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)
    return trt
