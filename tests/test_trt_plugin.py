"""The TensorRT AdaptiveSepConv plugin (plugins/tensorrt): build, registration, contract.

Without a GPU (DESIGN.md §3), given TensorRT headers and the ``tensorrt_lean`` wheel:

- configure + build ``libfmsmi_trt_plugin.so``, its contract check and the C++ example
  against the SDK named by ``FMSMI_TRT_SDK`` (a folder with ``include/NvInfer.h`` and
  ``lib/libnvinfer*.so``; e.g. the TensorRT headers with a ``lib/`` of symlinks to
  tensorrt_lean's ``libnvinfer_lean.so.*``);
- load the library into tensorrt_lean's plugin registry, get the creator
  ``AdaptiveSepConv``/``1``/``""`` and create the plugin from its fields;
- run ``fmsmi_trt_plugin_check``: every build/runtime method through ``getCreators``,
  including enqueue failing with a non-zero return, not an abort.

Skipped without ``FMSMI_TRT_SDK``, tensorrt_lean, cmake or nvcc. GPU tests (marked ``gpu``)
build a one-layer network with the full ``tensorrt`` package and compare the plugin with the
float64 reference formula.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDK_ENV = "FMSMI_TRT_SDK"
PLUGIN = ("AdaptiveSepConv", "1", "")
LIBRARY = "libfmsmi_trt_plugin.so"
ENABLED_LINE = "fmsmi: TensorRT plugin enabled"
BUILD_TIMEOUT_S = 1800


def sdk_unavailable_reason() -> str | None:
    sdk = os.environ.get(SDK_ENV)
    if not sdk:
        return f"{SDK_ENV} not set (a folder with include/NvInfer.h and lib/libnvinfer*.so)"
    root = Path(sdk)
    if not (root / "include" / "NvInfer.h").is_file():
        return f"{SDK_ENV}={sdk}: no include/NvInfer.h there"
    if not any((root / "lib").glob("libnvinfer*.so*")):
        return f"{SDK_ENV}={sdk}: no lib/libnvinfer*.so* there"
    if importlib.util.find_spec("tensorrt_lean") is None:
        return "tensorrt_lean not installed (pip install tensorrt-lean-cu13)"
    for tool in ("cmake", "nvcc"):
        if shutil.which(tool) is None:
            return f"{tool} not on PATH"
    return None


_NO_SDK = sdk_unavailable_reason()
needs_sdk = pytest.mark.skipif(_NO_SDK is not None, reason=f"TensorRT plugin build: {_NO_SDK}")
pytestmark = [pytest.mark.slow]


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def trt_build(tmp_path_factory) -> Path:
    """A build folder with the plugin, its contract check and the example (one CUDA arch)."""
    if _NO_SDK is not None:
        pytest.skip(f"TensorRT plugin build: {_NO_SDK}")
    build = tmp_path_factory.mktemp("trt-build")
    configure = _run(["cmake", "-S", str(ROOT), "-B", str(build), f"-DTensorRT_ROOT={os.environ[SDK_ENV]}",
                      "-DCMAKE_CUDA_ARCHITECTURES=75", "-DCMAKE_BUILD_TYPE=Release"],
                     timeout=BUILD_TIMEOUT_S)
    output = configure.stdout + configure.stderr
    assert configure.returncode == 0, output
    if ENABLED_LINE not in output:
        skipped = [line for line in output.splitlines() if "TensorRT" in line]
        pytest.fail(f"{SDK_ENV} is set but the plugin target is not configured: {skipped}")
    compiled = _run(["cmake", "--build", str(build), "-j2", "--target", "fmsmi_trt_plugin",
                     "fmsmi_trt_plugin_check", "fmsmi_trt_interpolate"], timeout=BUILD_TIMEOUT_S)
    assert compiled.returncode == 0, compiled.stdout[-4000:] + compiled.stderr[-4000:]
    return build


@pytest.fixture(scope="module")
def plugin_library(trt_build) -> Path:
    path = trt_build / "lib" / LIBRARY
    assert path.is_file(), f"{path} was not built"
    return path


# Runs in a child process: the plugin registry is process-wide, and a crash must fail the
# test, not end the session.
REGISTRY_SCRIPT = r"""
import ctypes, json, sys
import numpy as np
import tensorrt_lean as trt

path, mode = sys.argv[1], sys.argv[2]
registry = trt.get_plugin_registry()
if mode == "dlopen-first":
    ctypes.CDLL(path)          # REGISTER_TENSORRT_PLUGIN registers at load time
handle = registry.load_library(path)
creator = registry.get_creator("AdaptiveSepConv", "1", "")

def fields(**values):
    return trt.PluginFieldCollection([trt.PluginField(name, np.array([value], dtype=np.int32),
                                                      trt.PluginFieldType.INT32)
                                      for name, value in values.items()])

plugin = creator.create_plugin("sepconv", fields(kernel_size=51, dilation=2), trt.TensorRTPhase.BUILD)
core = plugin.get_capability_interface(trt.PluginCapabilityType.CORE)
build = plugin.get_capability_interface(trt.PluginCapabilityType.BUILD)
runtime = plugin.get_capability_interface(trt.PluginCapabilityType.RUNTIME)
# (Serialized fields, shapes and enqueue are checked by fmsmi_trt_plugin_check: the Python
# bindings call only Python-implemented plugins' methods, not a C++ plugin's.)
print(json.dumps({
    "version": trt.__version__,
    "handle": handle is not None,
    "registered": sum(1 for c in registry.all_creators if c.name == "AdaptiveSepConv"),
    "creator": [creator.name, creator.plugin_version, creator.plugin_namespace],
    "field_names": [f.name for f in creator.field_names],
    "plugin": [core.plugin_name, core.plugin_version, core.plugin_namespace],
    "num_outputs": build.num_outputs,
    "metadata": build.metadata_string,
    "runtime_capability": runtime is not None,
    "even_kernel_rejected": creator.create_plugin("bad", fields(kernel_size=4), trt.TensorRTPhase.BUILD) is None,
    "zero_dilation_rejected": creator.create_plugin("bad", fields(kernel_size=3, dilation=0),
                                                    trt.TensorRTPhase.BUILD) is None,
}))
"""


def _registry_result(library: Path, mode: str) -> dict:
    child = _run([sys.executable, "-c", REGISTRY_SCRIPT, str(library), mode], timeout=120)
    assert child.returncode == 0, f"exit {child.returncode}\n{child.stdout}\n{child.stderr}"
    return json.loads(child.stdout.strip().splitlines()[-1])


@needs_sdk
def test_configure_and_build(trt_build):
    assert (trt_build / "lib" / LIBRARY).is_file()
    assert (trt_build / "plugins" / "tensorrt" / "fmsmi_trt_plugin_check").is_file()
    assert (trt_build / "plugins" / "tensorrt" / "examples" / "fmsmi_trt_interpolate").is_file()


@needs_sdk
@pytest.mark.parametrize("mode", ["load_library", "dlopen-first"])
def test_registers_in_tensorrt_lean_and_creates_the_plugin(plugin_library, mode):
    result = _registry_result(plugin_library, mode)
    assert result["handle"], "registry.load_library returned None"
    assert result["registered"] == 1
    assert result["creator"] == list(PLUGIN)
    assert result["field_names"] == ["kernel_size", "dilation"]
    assert result["plugin"] == list(PLUGIN)
    assert result["num_outputs"] == 1
    assert result["metadata"] == "kernel_size=51 dilation=2"
    assert result["runtime_capability"]
    assert result["even_kernel_rejected"] and result["zero_dilation_rejected"]


@needs_sdk
def test_plugin_contract_without_gpu(trt_build, plugin_library):
    check = _run([str(trt_build / "plugins" / "tensorrt" / "fmsmi_trt_plugin_check"), str(plugin_library)],
                 timeout=120)
    report = check.stdout + check.stderr
    assert check.returncode == 0, report
    assert "PASSED: 0 failed" in report and "FAIL " not in report


@needs_sdk
def test_library_exports_only_the_plugin_entry_points(plugin_library):
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not on PATH")
    listing = _run([nm, "-D", "--defined-only", str(plugin_library)], timeout=60)
    assert listing.returncode == 0, listing.stderr
    exported = sorted(line.split()[-1] for line in listing.stdout.splitlines() if line.strip())
    assert exported == ["getCreators", "setLoggerFinder"]


@needs_sdk
def test_example_program_usage(trt_build):
    example = trt_build / "plugins" / "tensorrt" / "examples" / "fmsmi_trt_interpolate"
    usage = _run([str(example), "--help"], timeout=60)
    assert usage.returncode == 0 and "--engine" in usage.stdout
    missing = _run([str(example), "a.ppm", "b.ppm"], timeout=60)
    assert missing.returncode == 2 and "--engine: required" in missing.stderr


# ------------------------------------------------------------------------------- GPU tests


def _gpu_unavailable_reason() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "the full TensorRT python package (builder) is not installed"
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU visible to PyTorch"
    return None


_NO_GPU = _gpu_unavailable_reason()
needs_gpu = pytest.mark.skipif(_NO_GPU is not None, reason=f"GPU test: {_NO_GPU}")


def _one_layer_engine(trt, library: Path, dtype, taps: int, dilation: int):
    """Serialized engine of inputs img/kernel_v/kernel_h -> AdaptiveSepConv -> out."""
    import numpy as np

    logger = trt.Logger(trt.Logger.WARNING)
    registry = trt.get_plugin_registry()
    if registry.get_creator(*PLUGIN) is None:
        assert registry.load_library(str(library)) is not None
    creator = registry.get_creator(*PLUGIN)
    fields = trt.PluginFieldCollection([
        trt.PluginField("kernel_size", np.array([taps], dtype=np.int32), trt.PluginFieldType.INT32),
        trt.PluginField("dilation", np.array([dilation], dtype=np.int32), trt.PluginFieldType.INT32)])
    plugin = creator.create_plugin("sepconv", fields, trt.TensorRTPhase.BUILD)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    img = network.add_input("img", dtype, (-1, 3, -1, -1))
    kernel_v = network.add_input("kernel_v", dtype, (-1, taps, -1, -1))
    kernel_h = network.add_input("kernel_h", dtype, (-1, taps, -1, -1))
    layer = network.add_plugin_v3([img, kernel_v, kernel_h], [], plugin)
    layer.get_output(0).name = "out"
    network.mark_output(layer.get_output(0))
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for name, channels in (("img", 3), ("kernel_v", taps), ("kernel_h", taps)):
        profile.set_shape(name, (1, channels, 8, 8), (2, channels, 64, 96), (2, channels, 128, 128))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, "engine build failed"
    return trt.Runtime(logger).deserialize_cuda_engine(plan)


def _run_engine(engine, tensors: dict) -> tuple[bool, object]:
    import torch

    context = engine.create_execution_context()
    for name, tensor in tensors.items():
        context.set_input_shape(name, tuple(tensor.shape))
        context.set_tensor_address(name, tensor.data_ptr())
    out = torch.empty_like(tensors["img"])
    context.set_tensor_address("out", out.data_ptr())
    stream = torch.cuda.current_stream()
    ok = context.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    return ok, out


@pytest.mark.gpu
@needs_sdk
@needs_gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_one_layer_network_matches_reference(plugin_library, precision):
    import tensorrt as trt
    import torch

    from sepconv_naive import naive_sepconv

    dtype = {"fp32": (trt.float32, torch.float32), "fp16": (trt.float16, torch.float16)}[precision]
    taps, dilation = 5, 2
    engine = _one_layer_engine(trt, plugin_library, dtype[0], taps, dilation)
    generator = torch.Generator().manual_seed(0)
    for n, h, w in [(1, 8, 8), (2, 61, 97), (2, 128, 128)]:
        img = torch.rand(n, 3, h, w, generator=generator)
        kernel_v = torch.rand(n, taps, h, w, generator=generator) / taps
        kernel_h = torch.rand(n, taps, h, w, generator=generator) / taps
        inputs = {name: t.to(dtype[1]).cuda() for name, t in
                  (("img", img), ("kernel_v", kernel_v), ("kernel_h", kernel_h))}
        ok, out = _run_engine(engine, inputs)
        assert ok
        expected = naive_sepconv(*(t.cpu() for t in inputs.values()), dilation)
        error = ((out.cpu().double() - expected).norm() / expected.norm()).item()
        assert error <= (1e-5 if precision == "fp32" else 2e-3), (n, h, w, error)


@pytest.mark.gpu
@needs_sdk
@needs_gpu
def test_mismatched_runtime_shapes_fail_without_abort(plugin_library):
    import tensorrt as trt
    import torch

    engine = _one_layer_engine(trt, plugin_library, trt.float32, 3, 1)
    inputs = {"img": torch.rand(1, 3, 32, 32, device="cuda"),
              "kernel_v": torch.rand(1, 3, 32, 32, device="cuda"),
              "kernel_h": torch.rand(1, 3, 16, 32, device="cuda")}   # H differs: onShapeChange fails
    ok, _ = _run_engine(engine, inputs)
    assert not ok
