"""AdaptiveSepConv: every backend against a naive evaluation of the formula."""

from __future__ import annotations

import os

import pytest
import torch

from fmsmi.engine import adaptive_sepconv
from fmsmi.engine.op import native_unavailable_reason, resolve_backend
from fmsmi.engine.op.reference import adaptive_sepconv_reference
from fmsmi.errors import ConfigError, NativeLibraryError

from sepconv_naive import naive_sepconv

# CI installs the package and sets FMSMI_REQUIRE_NATIVE=1: a missing library is then a failure.
if native_unavailable_reason() is not None and os.environ.get("FMSMI_REQUIRE_NATIVE") == "1":
    raise RuntimeError(f"FMSMI_REQUIRE_NATIVE=1 but {native_unavailable_reason()}")
needs_native = pytest.mark.skipif(native_unavailable_reason() is not None,
                                  reason=f"native library: {native_unavailable_reason()}")

CASES = [
    # (n, c, h, w, taps, dilation)
    (1, 3, 9, 11, 1, 1),
    (2, 3, 17, 23, 3, 2),
    (1, 1, 13, 19, 5, 3),
    (1, 8, 21, 16, 13, 1),
    (1, 3, 20, 24, 51, 1),
    (1, 3, 1, 29, 5, 1),     # a single row
    (1, 3, 31, 1, 3, 2),     # a single column
    (1, 1, 3, 5, 13, 2),     # smaller than the kernel
    (2, 8, 37, 53, 5, 1),    # odd sizes, both interior and border paths
    (1, 3, 7, 40, 51, 3),    # reach far beyond the image
]


def random_inputs(n, c, h, w, taps, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    img = torch.rand(n, c, h, w, generator=generator, dtype=dtype)
    # kernels roughly normalised, like trained ones, so relative errors are meaningful
    kernel_v = torch.rand(n, taps, h, w, generator=generator, dtype=dtype) * (2.0 / taps)
    kernel_h = torch.rand(n, taps, h, w, generator=generator, dtype=dtype) * (2.0 / taps)
    return img, kernel_v, kernel_h


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual.double() - expected).abs().max() / expected.abs().max().clamp_min(1e-12)).item()


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_reference_matches_formula(case):
    n, c, h, w, taps, dilation = case
    img, kernel_v, kernel_h = random_inputs(n, c, h, w, taps)
    out = adaptive_sepconv(img, kernel_v, kernel_h, dilation, backend="reference")
    assert out.shape == img.shape and out.dtype == img.dtype
    assert relative_error(out, naive_sepconv(img, kernel_v, kernel_h, dilation)) <= 1e-5


@needs_native
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_native_matches_formula(case):
    n, c, h, w, taps, dilation = case
    img, kernel_v, kernel_h = random_inputs(n, c, h, w, taps, seed=1)
    expected = naive_sepconv(img, kernel_v, kernel_h, dilation)
    out = adaptive_sepconv(img, kernel_v, kernel_h, dilation, backend="native")
    assert relative_error(out, expected) <= 1e-5
    reference = adaptive_sepconv(img, kernel_v, kernel_h, dilation, backend="reference")
    assert relative_error(out, reference.double()) <= 1e-5


@needs_native
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_shared_header_path_matches_formula(case):
    """The per-pixel math the CUDA kernel runs, executed on the CPU."""
    from fmsmi.engine.op import native
    n, c, h, w, taps, dilation = case
    img, kernel_v, kernel_h = random_inputs(n, c, h, w, taps, seed=2)
    expected = naive_sepconv(img, kernel_v, kernel_h, dilation)
    assert relative_error(native.forward(img, kernel_v, kernel_h, dilation, scalar=True), expected) <= 1e-5
    half = [t.half() for t in (img, kernel_v, kernel_h)]
    expected_half = naive_sepconv(*half, dilation)
    assert relative_error(native.forward(*half, dilation, scalar=True), expected_half) <= 2e-3


@needs_native
@pytest.mark.parametrize("case", CASES[:6], ids=lambda c: "x".join(map(str, c)))
def test_native_fp16_io(case):
    n, c, h, w, taps, dilation = case
    img, kernel_v, kernel_h = (t.half() for t in random_inputs(n, c, h, w, taps, seed=3))
    out = adaptive_sepconv(img, kernel_v, kernel_h, dilation, backend="native")
    assert out.dtype == torch.float16
    # fp32 accumulation: the only error is the final rounding to fp16 (2^-11 relative)
    assert relative_error(out, naive_sepconv(img, kernel_v, kernel_h, dilation)) <= 2e-3


def test_reference_fp16_and_bf16_inputs_keep_dtype():
    img, kernel_v, kernel_h = random_inputs(1, 3, 12, 14, 5)
    expected = naive_sepconv(img, kernel_v, kernel_h, 1)
    for dtype in (torch.float16, torch.bfloat16):
        out = adaptive_sepconv(img.to(dtype), kernel_v.to(dtype), kernel_h.to(dtype), 1, backend="reference")
        assert out.dtype == dtype
        assert relative_error(out, expected) < 2e-2


@pytest.mark.parametrize("taps,dilation", [(1, 1), (3, 2), (5, 1)])
def test_reference_gradcheck(taps, dilation):
    img, kernel_v, kernel_h = (t.double().requires_grad_() for t in random_inputs(2, 2, 5, 6, taps, seed=4))
    assert torch.autograd.gradcheck(
        lambda a, b, c: adaptive_sepconv_reference(a, b, c, dilation), (img, kernel_v, kernel_h))


@needs_native
@pytest.mark.parametrize("case", [(2, 3, 9, 11, 3, 1), (1, 2, 6, 5, 5, 2), (1, 3, 16, 16, 13, 1)])
def test_native_backward_matches_reference(case):
    n, c, h, w, taps, dilation = case
    inputs = random_inputs(n, c, h, w, taps, seed=5)
    grad_out = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(6))
    grads = {}
    for backend in ("reference", "native"):
        leaves = [t.clone().requires_grad_() for t in inputs]
        adaptive_sepconv(*leaves, dilation, backend=backend).backward(grad_out)
        grads[backend] = [t.grad for t in leaves]
    for name, ref, nat in zip(("img", "kernel_v", "kernel_h"), grads["reference"], grads["native"]):
        assert relative_error(nat, ref.double()) <= 1e-5, name


@pytest.mark.parametrize("make_args,match", [
    (lambda i, v, h: (i, v[:, :4], h[:, :4], 1), "odd number of taps"),
    (lambda i, v, h: (i, v, h[:, :3], 1), "kernel_h.shape"),
    (lambda i, v, h: (i, v[:, :, :5], h[:, :, :5], 1), "kernel_v.shape"),
    (lambda i, v, h: (i, v.double(), h.double(), 1), "dtypes"),
    (lambda i, v, h: (i, v, h, 0), "dilation=0"),
    (lambda i, v, h: (i[0], v, h, 1), "img.shape"),
    (lambda i, v, h: (i.to(torch.int32), v, h, 1), "img.dtype"),
    (lambda i, v, h: (i, v.to("meta"), h.to("meta"), 1), "devices"),
])
def test_bad_arguments_name_the_argument(make_args, match):
    img, kernel_v, kernel_h = random_inputs(1, 3, 8, 8, 5)
    with pytest.raises(ConfigError, match=match):
        adaptive_sepconv(*make_args(img, kernel_v, kernel_h))


def test_unknown_backend_is_a_config_error():
    img, kernel_v, kernel_h = random_inputs(1, 3, 8, 8, 3)
    with pytest.raises(ConfigError, match="backend='vulkan'"):
        adaptive_sepconv(img, kernel_v, kernel_h, backend="vulkan")


def test_cuda_backend_on_cpu_tensors_is_refused():
    img, kernel_v, kernel_h = random_inputs(1, 3, 8, 8, 3)
    with pytest.raises(ConfigError, match="backend='cuda'"):
        adaptive_sepconv(img, kernel_v, kernel_h, backend="cuda")


def test_missing_native_library_is_clear_and_reference_still_works(tmp_path, monkeypatch):
    import fmsmi.engine.op as op
    from fmsmi.engine.op import native
    monkeypatch.setenv("FMSMI_NATIVE_DIR", str(tmp_path))
    native.library.cache_clear()
    op.native_unavailable_reason.cache_clear()
    try:
        img, kernel_v, kernel_h = random_inputs(1, 3, 8, 8, 3)
        with pytest.raises(NativeLibraryError, match="libfmsmi_sepconv_cpu"):
            adaptive_sepconv(img, kernel_v, kernel_h, backend="native")
        assert resolve_backend("auto", img.device) == "reference"
        out = adaptive_sepconv(img, kernel_v, kernel_h, backend="auto")
        assert relative_error(out, naive_sepconv(img, kernel_v, kernel_h, 1)) <= 1e-5
    finally:
        monkeypatch.undo()
        native.library.cache_clear()
        op.native_unavailable_reason.cache_clear()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_cuda_matches_formula(dtype):
    for n, c, h, w, taps, dilation in CASES:
        img, kernel_v, kernel_h = (t.to(dtype) for t in random_inputs(n, c, h, w, taps, seed=7))
        expected = naive_sepconv(img, kernel_v, kernel_h, dilation)
        out = adaptive_sepconv(img.cuda(), kernel_v.cuda(), kernel_h.cuda(), dilation, backend="cuda")
        assert out.dtype == dtype
        assert relative_error(out.cpu(), expected) <= (1e-5 if dtype == torch.float32 else 2e-3)
