"""Fused synthesis (upsample + kernels + two sepconvs + occlusion blend) against its definition."""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fmsmi.engine import get_config
from fmsmi.engine.network import VFIFMSMI
from fmsmi.engine.network.motion import align
from fmsmi.engine.op import adaptive_sepconv, native
from fmsmi.engine.op.synthesis import fused_synthesis, raw_channels, reference_synthesis, unavailable_reason
from fmsmi.errors import ConfigError, FmsmiError

if unavailable_reason() is not None and os.environ.get("FMSMI_REQUIRE_NATIVE") == "1":
    raise RuntimeError(f"FMSMI_REQUIRE_NATIVE=1 but {unavailable_reason()}")
pytestmark = pytest.mark.skipif(unavailable_reason() is not None,
                                reason=f"fused synthesis: {unavailable_reason()}")

TOLERANCE = 1e-5
SIZES = [(37, 53), (3, 5), (24, 40)]
SCALES = [1, 2, 4, 8]  # raw at the target size, 1/2, 1/4, 1/8 (rounded up, as stride-2 convs do)


def inputs(n, c, height, width, taps, raw_height, raw_width, seed=0):
    generator = torch.Generator().manual_seed(seed)
    frame0 = torch.rand(n, c, height, width, generator=generator)
    frame1 = torch.rand(n, c, height, width, generator=generator)
    raw = 0.05 * torch.randn(n, raw_channels(taps), raw_height, raw_width, generator=generator)
    return frame0, frame1, raw


def raw_size(height, width, scale):
    return -(-height // scale), -(-width // scale)


@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("taps", [1, 3, 5, 7, 9, 13])
def test_fused_matches_reference(taps, dilation):
    for height, width in SIZES:
        for scale in SCALES:
            frame0, frame1, raw = inputs(2, 3, height, width, taps, *raw_size(height, width, scale))
            out = fused_synthesis(frame0, frame1, raw, taps, dilation)
            expected = reference_synthesis(frame0, frame1, raw, taps, dilation)
            assert out.shape == frame0.shape and out.dtype == torch.float32 and out.is_contiguous()
            error = (out - expected).abs().max().item()
            assert error <= TOLERANCE, (height, width, scale, error)


@pytest.mark.parametrize("raw_shape", [(1, 1), (2, 53), (37, 3), (50, 70), (9, 60)])
def test_any_raw_size_is_resampled_like_interpolate(raw_shape):
    """Mixed and fractional ratios, one axis copied, even downsampling: interpolate's weights."""
    frame0, frame1, raw = inputs(1, 3, 37, 53, 5, *raw_shape, seed=1)
    raw[:, -1] *= 100  # occlusion logits far into both tails of the sigmoid
    out = fused_synthesis(frame0, frame1, raw, 5, 2)
    assert (out - reference_synthesis(frame0, frame1, raw, 5, 2)).abs().max().item() <= TOLERANCE


def test_channels_and_non_contiguous_inputs():
    frame0, frame1, raw = inputs(2, 5, 20, 31, 3, 10, 16, seed=2)
    frame0 = frame0.transpose(2, 3).contiguous().transpose(2, 3)
    raw = raw.contiguous(memory_format=torch.channels_last)
    out = fused_synthesis(frame0, frame1, raw, 3, 1)
    assert (out - reference_synthesis(frame0, frame1, raw, 3, 1)).abs().max().item() <= TOLERANCE


def test_thread_count_does_not_change_the_result(monkeypatch):
    frame0, frame1, raw = inputs(2, 3, 45, 67, 7, 12, 17, seed=3)
    results = []
    for threads in (1, 2, 3, 7):
        monkeypatch.setattr(native, "_threads", threads)
        results.append(fused_synthesis(frame0, frame1, raw, 7, 2))
    for out in results[1:]:
        assert torch.equal(out, results[0])


def test_portable_kernels_match_reference():
    """The generic (non-AVX2) kernels, forced with FMSMI_SEPCONV_ISA=generic in a child process."""
    script = (
        "import torch\n"
        "from fmsmi.engine.op import native\n"
        "from fmsmi.engine.op.synthesis import fused_synthesis, reference_synthesis\n"
        "assert 'generic' in native.build_info(), native.build_info()\n"
        "g = torch.Generator().manual_seed(0)\n"
        "worst = 0.0\n"
        "for (h, w, rh, rw, taps, d) in [(37, 53, 10, 14, 5, 1), (3, 5, 1, 1, 13, 3), (24, 40, 24, 40, 9, 2),\n"
        "                                (17, 9, 9, 5, 3, 1)]:\n"
        "    f0, f1 = torch.rand(2, 3, h, w, generator=g), torch.rand(2, 3, h, w, generator=g)\n"
        "    raw = 0.05 * torch.randn(2, 4 * taps + 1, rh, rw, generator=g)\n"
        "    out = fused_synthesis(f0, f1, raw, taps, d)\n"
        "    worst = max(worst, (out - reference_synthesis(f0, f1, raw, taps, d)).abs().max().item())\n"
        "print(worst)\n"
    )
    env = dict(os.environ, FMSMI_SEPCONV_ISA="generic")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*sys.path, env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            cwd=Path(__file__).parent, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip().splitlines()[-1]) <= TOLERANCE


@pytest.mark.parametrize("change,match", [
    (lambda f0, f1, raw: (f0, f1, raw[:, :-1], 3, 1), r"raw.shape=\(1, 12, 4, 5\)"),
    (lambda f0, f1, raw: (f0, f1[:, :, :5], raw, 3, 1), "frame1.shape"),
    (lambda f0, f1, raw: (f0.double(), f1, raw, 3, 1), "frame0.dtype=torch.float64"),
    (lambda f0, f1, raw: (f0, f1, raw.half(), 3, 1), "raw.dtype=torch.float16"),
    (lambda f0, f1, raw: (f0, f1, raw, 4, 1), "taps=4"),
    (lambda f0, f1, raw: (f0, f1, raw, 3, 0), "dilation=0"),
    (lambda f0, f1, raw: (f0[0], f1, raw, 3, 1), "frame0.shape"),
    (lambda f0, f1, raw: (f0, f1, raw.to("meta"), 3, 1), "raw.device=meta"),
    (lambda f0, f1, raw: (f0, f1, raw[:, :, :0], 3, 1), "raw.shape"),
])
def test_bad_arguments_name_the_argument(change, match):
    frame0, frame1, raw = inputs(1, 3, 8, 10, 3, 4, 5)
    with pytest.raises(ConfigError, match=match):
        fused_synthesis(*change(frame0, frame1, raw))


@pytest.mark.parametrize("field,value,match", [
    ("raw", None, "raw=NULL"),
    ("raw_h", 0, "raw_h=0"),
    ("raw_w", -3, "raw_w=-3"),
    ("h", 0, "h=0"),
    ("taps", 4, "taps=4"),
    ("dilation", 0, "dilation=0"),
    ("threads", -1, "threads=-1"),
    ("raw_w", 1 << 31, "raw_w=2147483648"),
])
def test_c_abi_refuses_bad_arguments(field, value, match):
    frame0, frame1, raw = inputs(1, 3, 8, 10, 3, 4, 5)
    out = torch.empty_like(frame0)
    arguments = {"frame0": frame0.data_ptr(), "frame1": frame1.data_ptr(), "raw": raw.data_ptr(),
                 "out": out.data_ptr(), "n": 1, "c": 3, "h": 8, "w": 10, "raw_h": 4, "raw_w": 5,
                 "taps": 3, "dilation": 1, "threads": 1}
    arguments[field] = value
    library = native.library()
    function = library.fmsmi_synthesis_forward_f32
    function.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 8 + [ctypes.c_int]
    function.restype = ctypes.c_int
    assert function(*arguments.values()) == 1  # FMSMI_SEPCONV_INVALID_ARGUMENT
    assert match in library.fmsmi_sepconv_last_error().decode()


def random_network(name: str) -> VFIFMSMI:
    torch.manual_seed(0)
    network = VFIFMSMI(get_config(name)).eval()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.02)
    return network


@pytest.mark.parametrize("model,size", [("lite", (64, 96)), ("lite", (48, 80)), ("base", (32, 48))])
def test_network_fused_path_equals_unfused(model, size):
    network = random_network(model)
    if network.config.motion is not None:   # one alignment for both (its native twin: test_motion.py)
        network.align = functools.partial(align, config=network.config.motion)
    frame0, frame1 = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
    with torch.no_grad():
        assert network.fused_synthesis_applies(frame0)
        fused, fused_scales = network(frame0, frame1, return_scales=True)
        network.set_sepconv(adaptive_sepconv)  # any injected sepconv selects the composition
        assert not network.fused_synthesis_applies(frame0)
        unfused, unfused_scales = network(frame0, frame1, return_scales=True)
    for level in unfused_scales:
        assert (fused_scales[level] - unfused_scales[level]).abs().max().item() <= TOLERANCE, level
    assert (fused - unfused).abs().max().item() <= TOLERANCE


def test_network_takes_the_fused_path_only_for_cpu_fp32_inference():
    network = random_network("lite")
    frame = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        assert network.fused_synthesis_applies(frame)
    with torch.no_grad():
        assert not network.fused_synthesis_applies(frame.double())
        assert not network.fused_synthesis_applies(frame.to("meta"))
    assert not network.fused_synthesis_applies(frame)  # autograd on: training keeps the composition
    out = network(frame, frame.clone())
    out.mean().backward()
    assert network.heads[0].out.weight.grad is not None


def test_network_falls_back_when_the_library_is_missing(tmp_path, monkeypatch):
    import fmsmi.engine.op as op
    network = random_network("lite")
    frame0, frame1 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = network(frame0, frame1)
    monkeypatch.setenv("FMSMI_NATIVE_DIR", str(tmp_path))
    native.library.cache_clear()
    op.native_unavailable_reason.cache_clear()
    try:
        with torch.no_grad():
            assert not network.fused_synthesis_applies(frame0)
            assert (network(frame0, frame1) - expected).abs().max().item() <= TOLERANCE
        with pytest.raises(FmsmiError):
            fused_synthesis(frame0, frame1, torch.zeros(1, 21, 8, 8), 5, 1)
    finally:
        monkeypatch.undo()
        native.library.cache_clear()
        op.native_unavailable_reason.cache_clear()
