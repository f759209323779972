"""VFI_FMSMI network, configs, weights files and the Interpolator API."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fmsmi.engine import CONFIGS, HeadConfig, Interpolator, get_config
from fmsmi.engine.frames import pad_to_multiple
from fmsmi.engine.network import VFIFMSMI
from fmsmi.engine.network.complexity import complexity_table
from fmsmi.engine.weights import config_dict, load_weights, save_weights
from fmsmi.errors import ConfigError, InputError


def test_named_configs_exist_and_base_is_the_seed():
    assert set(CONFIGS) >= {"base", "lite"}
    base = get_config("base")
    assert base.encoder_widths == (32, 64, 128, 256, 512)
    assert [(h.level, h.taps) for h in base.heads] == [(0, 51), (1, 51), (2, 51)]
    assert base.refine_widths == (32, 64, 96)


def test_unknown_model_names_the_value():
    with pytest.raises(ConfigError, match="model='huge'"):
        get_config("huge")


@pytest.mark.parametrize("change,match", [
    (dict(heads=(HeadConfig(0, 4),)), "taps=4"),
    (dict(heads=(HeadConfig(2, 5), HeadConfig(0, 5))), "increasing"),
    (dict(stem_widths=(8,)), "stem_widths"),
    (dict(head_kernel=2), "head_kernel=2"),
    (dict(refine_widths=()), "single head at level 0"),
])
def test_bad_config_is_refused(change, match):
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(get_config("lite"), **change)


@pytest.mark.parametrize("model", ["fast", "lite", "base"])
def test_untrained_network_is_frame_averaging(model):
    """Identity kernels and 50 % occlusion: the untrained network averages its two inputs
    (with motion pre-alignment, the two aligned frames: motion-compensated averaging)."""
    config = get_config(model)
    network = VFIFMSMI(config, sepconv=None).eval()
    size = config.multiple * 2
    frame0, frame1 = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)
    with torch.no_grad():
        out = network(frame0, frame1)
        if config.motion is not None:
            frame0, frame1 = network.align(frame0, frame1)
    torch.testing.assert_close(out, (frame0 + frame1) / 2, atol=1e-6, rtol=0)


@pytest.mark.parametrize("model,head_kernel", [("lite", 1), ("lite", 3), ("base", 3)])
def test_heads_sharing_features_predict_what_each_head_predicts(model, head_kernel):
    """predict_raw stacks the output convs of body-less heads that read the same features
    (lite's three 1/4-level heads): each head must still get exactly its own prediction,
    in order, with gradients reaching every head's weights."""
    config = dataclasses.replace(get_config(model), head_kernel=head_kernel)
    torch.manual_seed(0)
    network = VFIFMSMI(config)
    for head in network.heads:
        torch.nn.init.normal_(head.out.weight, std=0.1)
        torch.nn.init.normal_(head.out.bias, std=0.1)
    size = config.multiple
    features = network.features(torch.rand(2, 3, size, size), torch.rand(2, 3, size, size))
    raws = network.predict_raw(features)
    assert len(raws) == len(network.heads)
    for head, raw in zip(network.heads, raws):
        expected = head.predict(features[network._feature_level(head.head.level)])
        torch.testing.assert_close(raw, expected, atol=1e-5, rtol=1e-5)
    sum(raw.square().mean() for raw in raws).backward()
    assert all(head.out.weight.grad is not None and head.out.weight.grad.abs().sum() > 0
               for head in network.heads)


def test_training_step_changes_the_output():
    config = get_config("lite")
    network = VFIFMSMI(config)
    size = config.multiple * 2
    frame0, frame1, target = (torch.rand(2, 3, size, size) for _ in range(3))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        loss = (network(frame0, frame1) - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("height,width", [(37, 53), (1, 1), (17, 4), (360, 641)])
def test_interpolator_returns_the_input_size(height, width):
    interpolator = Interpolator("lite", backend="cpu")
    rng = np.random.default_rng(0)
    frame0 = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame1 = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = interpolator.interpolate(frame0, frame1)
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    if not interpolator.has_trained_weights:
        average = (frame0.astype(np.int32) + frame1) / 2
        assert np.abs(out - average).max() <= 1


@pytest.mark.parametrize("model", ["fast", "lite", "base"])
def test_pytorch_inference_pads_to_the_inference_multiple_only(model):
    """640x360 runs unpadded (360 is not a multiple of 32, the export stride): the deeper
    maps get odd sizes and the result stays that of the padded network, up to float noise
    and the border."""
    # the motion search has no size multiple; its border (replicate) moves with the padding,
    # which is not what this test is about
    config = dataclasses.replace(get_config(model), motion=None)
    assert config.inference_multiple < config.multiple and 360 % config.inference_multiple == 0
    network = VFIFMSMI(config).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():                # a network that is not frame averaging: random heads
        for head in network.heads:
            head.out.weight.normal_(0, 0.01, generator=generator)
        for parameter in network.refine.head.parameters() if network.refine is not None else ():
            parameter.normal_(0, 0.01, generator=generator)
        frame0, frame1 = torch.rand(2, 1, 3, 72, 96, generator=generator)
        unpadded = network(frame0, frame1)
        padded = network(pad_to_multiple(frame0, config.multiple), pad_to_multiple(frame1, config.multiple))
    assert unpadded.shape == frame0.shape
    inner = (slice(None), slice(None), slice(0, 48), slice(None))   # away from the bottom border
    assert (unpadded - padded[..., :72, :])[inner].abs().max() < 2e-3     # 1e-4 measured; the heads move it by 0.06+


def test_interpolator_runs_640x360_unpadded():
    interpolator = Interpolator("lite", backend="cpu")
    seen = []
    runner = interpolator.runner
    interpolator.runner = lambda frame0, frame1: seen.append(tuple(frame0.shape)) or runner(frame0, frame1)
    frame = np.zeros((360, 640, 3), np.uint8)
    assert interpolator.interpolate(frame, frame).shape == (360, 640, 3)
    assert seen == [(1, 3, 360, 640)]


def test_interpolator_accepts_torch_uint8_frames():
    interpolator = Interpolator("lite", backend="cpu")
    frame0 = torch.randint(0, 256, (20, 30, 3), dtype=torch.uint8)
    out = interpolator.interpolate(frame0, frame0)
    assert isinstance(out, torch.Tensor) and out.shape == (20, 30, 3) and out.dtype == torch.uint8


def test_interpolator_refuses_mismatched_or_bad_frames():
    interpolator = Interpolator("lite", backend="cpu")
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ConfigError, match="frame1"):
        interpolator.interpolate(frame, np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ConfigError, match="frame0"):
        interpolator.interpolate(np.zeros((8, 8), np.uint8), frame)
    with pytest.raises(ConfigError, match="frame0"):
        interpolator.interpolate(frame.astype(np.float32), frame)


def test_interpolator_unknown_backend():
    with pytest.raises(ConfigError, match="backend='metal'"):
        Interpolator("lite", backend="metal")


def test_weights_round_trip_and_errors(tmp_path):
    config = get_config("lite")
    network = VFIFMSMI(config)
    for parameter in network.parameters():
        torch.nn.init.normal_(parameter, std=0.01)
    path = tmp_path / "lite.pt"
    save_weights(path, config, network.state_dict(), {"note": "test"})
    interpolator = Interpolator("lite", weights=path, backend="cpu")
    for key, value in network.state_dict().items():
        torch.testing.assert_close(interpolator.runner.network.state_dict()[key], value)
    with pytest.raises(InputError, match="missing.pt: weights file not found"):
        Interpolator("lite", weights=tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(InputError, match="corrupt.pt: not a readable fmsmi weights file"):
        Interpolator("lite", weights=corrupt)
    with pytest.raises(InputError, match="lite.pt: weights are for model config 'lite'"):
        load_weights(path, get_config("base"))


def test_weight_files_store_later_config_fields_only_when_they_differ_from_the_default(tmp_path):
    """Files written before a config field existed have no key for it: a field at its
    default is left out, so they still load; a file for lite's former 3x3 heads is refused
    by the current lite (its tensors have other shapes)."""
    base = config_dict(get_config("base"))
    assert not {"motion", "head_kernel", "refine_up_coarse"} & set(base)
    lite = config_dict(get_config("lite"))
    assert lite["head_kernel"] == 1 and lite["refine_up_coarse"] is True and "motion" in lite
    former = dataclasses.replace(get_config("lite"), head_kernel=3, refine_up_coarse=False)
    assert not {"head_kernel", "refine_up_coarse"} & set(config_dict(former))
    path = tmp_path / "former.pt"
    save_weights(path, former, VFIFMSMI(former).state_dict())
    with pytest.raises(InputError, match="former.pt: weights are for model config 'lite' with different"):
        load_weights(path, get_config("lite"))


@pytest.mark.parametrize("coarse", [False, True])
def test_grid_up_block_convolves_where_its_config_says(coarse):
    """GridUp: conv then upsample (coarse, lite) or upsample then conv (base)."""
    from fmsmi.engine.network.blocks import GridUp, upsample
    torch.manual_seed(0)
    block = GridUp(8, 4, 1, coarse=coarse)
    x = torch.rand(1, 8, 6, 10)
    expected = upsample(block.body(x), (12, 20)) if coarse else block.body(upsample(x, (12, 20)))
    torch.testing.assert_close(block(x, (12, 20)), expected)
    assert not torch.allclose(upsample(block.body(x), (12, 20)), block.body(upsample(x, (12, 20))))
    network = VFIFMSMI(get_config("lite"))
    assert all(up.coarse for column in network.refine.ups for up in column)
    assert not any(up.coarse for column in VFIFMSMI(get_config("base")).refine.ups for up in column)


def test_without_a_gridnet_the_output_is_the_full_resolution_synthesis():
    """fast: one head at level 0 and no refinement; its output is that scale's synthesis,
    and it is the full-resolution path of lite with fast's encoder levels, on the same
    tensors (fast-r1 started from lite-r6's tensors so; fast-r2 from fast-r1's)."""
    fast, lite = get_config("fast"), get_config("lite")
    assert fast.refine_widths == () and [h.level for h in fast.heads] == [0] and fast.motion == lite.motion
    torch.manual_seed(0)
    lite_network = VFIFMSMI(dataclasses.replace(lite, encoder_widths=fast.encoder_widths)).eval()
    for head in lite_network.heads:
        torch.nn.init.normal_(head.out.weight, std=0.05)
    fast_network = VFIFMSMI(fast).eval()
    assert fast_network.refine is None
    state = lite_network.state_dict()
    fast_network.load_state_dict({name: state[name] for name in fast_network.state_dict()})
    frame0, frame1 = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        out, scales = fast_network(frame0, frame1, return_scales=True)
        _, lite_scales = lite_network(frame0, frame1, return_scales=True)
    assert list(scales) == [0] and out is scales[0]
    torch.testing.assert_close(out, lite_scales[0])
    assert fast.inference_multiple == 4 and fast.multiple == 8      # encoder down to 1/8


def test_the_default_model_ships_trained_weights():
    from fmsmi.engine.defaults import DEFAULT_MODEL
    from fmsmi.engine.weights import shipped_weights
    assert DEFAULT_MODEL in CONFIGS and shipped_weights(DEFAULT_MODEL) is not None
    assert Interpolator().config.name == DEFAULT_MODEL and Interpolator().has_trained_weights


def test_complexity_table_counts_every_config():
    rows = {row["model"]: row for row in complexity_table({"360p": (640, 360), "720p": (1280, 720)})}
    assert set(rows) == set(CONFIGS)
    for row in rows.values():
        assert row["params"] > 0
        # FLOPs grow with the pixel count (4x from 360p to 720p, up to padding)
        assert 3.5 < row["gflops"]["720p"] / row["gflops"]["360p"] < 4.5
    assert rows["base"]["gflops"]["360p"] > 10 * rows["lite"]["gflops"]["360p"]


def test_native_pixel_packing_is_the_pytorch_formula_to_the_byte():
    """to_uint8 packs CPU fp32 frames natively: the same bytes as the PyTorch ops, including
    values outside [0, 1], exact halves and the opaque alpha channel."""
    from fmsmi.engine.frames import to_uint8
    from fmsmi.engine.op import pixels
    if pixels.unavailable_reason() is not None:
        pytest.skip(f"native packing: {pixels.unavailable_reason()}")
    torch.manual_seed(0)
    frame = torch.rand(1, 3, 37, 53) * 1.4 - 0.2
    frame[0, :, 0, :20] = torch.arange(20) / 255.0 + 0.5 / 255.0     # halves: round up
    expected = frame[0].mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
    assert torch.equal(to_uint8(frame), expected)
    rgba = to_uint8(frame, alpha=True)
    assert rgba.shape == (37, 53, 4) and torch.equal(rgba[..., :3], expected) and bool((rgba[..., 3] == 255).all())
    assert torch.equal(to_uint8(frame.double(), alpha=True), rgba)       # the PyTorch path agrees
    assert torch.equal(pixels.packed_u8(frame[0, :2]), expected[..., :2])   # other channel counts
    interpolator = Interpolator("lite", backend="cpu")
    image0 = np.random.default_rng(1).integers(0, 256, (40, 64, 3), dtype=np.uint8)
    image1 = np.roll(image0, 3, axis=1)
    rgb = interpolator.interpolate(image0, image1)
    rgba = interpolator.interpolate(image0, image1, alpha=True)
    assert rgba.shape == (40, 64, 4) and np.array_equal(rgba[..., :3], rgb) and (rgba[..., 3] == 255).all()


def _yuv420p_formula(frame: np.ndarray, kr: float, kb: float, full_range: bool):
    """NumPy float64 reference of fmsmi_planar_to_yuv420p_u8: (3,H,W) -> Y, Cb, Cr planes."""
    rgb = np.clip(frame.astype(np.float64), 0.0, 1.0)
    height, width = rgb.shape[1:]
    padded = np.pad(rgb, ((0, 0), (0, height % 2), (0, width % 2)), mode="edge")   # odd edges pair with themselves
    mean = padded.reshape(3, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2).mean(axis=(2, 4))
    kg = 1.0 - kr - kb
    y_scale, y_offset, c_scale = (255.0, 0.0, 255.0) if full_range else (219.0, 16.0, 224.0)
    code = lambda x: np.clip(np.floor(x + 0.5), 0, 255)    # noqa: E731
    luma = code(y_offset + y_scale * (kr * rgb[0] + kg * rgb[1] + kb * rgb[2]))
    mean_luma = kr * mean[0] + kg * mean[1] + kb * mean[2]
    cb = code(128.0 + c_scale * (mean[2] - mean_luma) / (2 * (1 - kb)))
    cr = code(128.0 + c_scale * (mean[0] - mean_luma) / (2 * (1 - kr)))
    return luma, cb, cr


@pytest.mark.parametrize("size", [(36, 52), (37, 53)], ids=["even", "odd"])
@pytest.mark.parametrize("weights", [(0.299, 0.114, False), (0.2126, 0.0722, True), (0.2627, 0.0593, False)],
                         ids=["601-limited", "709-full", "2020-limited"])
def test_native_yuv420p_planes_are_the_formula(size, weights):
    """The export's synthesized frames go straight to 4:2:0 planes: the matrix formulas on the
    clamped RGB, chroma from 2x2 means, written into rows with padding (an encoder frame's
    line size) without touching the padding."""
    from fmsmi.engine.op import pixels
    if pixels.yuv_unavailable_reason() is not None:
        pytest.skip(f"native YUV writer: {pixels.yuv_unavailable_reason()}")
    height, width = size
    frame = torch.rand(3, height, width, generator=torch.Generator().manual_seed(2)) * 1.2 - 0.1
    planes = [np.full((h, w + 7), 77, np.uint8) for h, w in ((height, width),) + (((height + 1) // 2, (width + 1) // 2),) * 2]
    views = [plane[:, :-7] for plane in planes]
    pixels.yuv420p_u8(frame, *views, *weights)
    for view, plane, expected in zip(views, planes, _yuv420p_formula(frame.numpy(), *weights)):
        # float32 arithmetic against float64: a code may differ by one where x + 0.5 is within
        # float rounding of an integer
        difference = np.abs(view.astype(int) - expected)
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01
        assert (plane[:, -7:] == 77).all()
    with pytest.raises(ConfigError, match="luma"):
        pixels.yuv420p_u8(frame, views[0][:, :-1], views[1], views[2], *weights)


def test_native_yuv420p_matches_swscale():
    """Against the conversion it replaces (8-bit RGB, then swscale): luma within one code
    everywhere, chroma on average within a code (swscale filters chroma differently, and
    its full-range chroma comes out about half a code below the rounded formula: 0.56 on
    this image, 0.06 in limited range)."""
    import av

    from fmsmi.engine.op import pixels
    from fmsmi.player.media.probe import LUMA_WEIGHTS
    if pixels.yuv_unavailable_reason() is not None:
        pytest.skip(f"native YUV writer: {pixels.yuv_unavailable_reason()}")
    def plane_views(frame: av.VideoFrame) -> list[np.ndarray]:   # each plane's rows without padding
        return [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:p.height, :p.width] for p in frame.planes]

    # a smooth image with edges, like video
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 96), indexing="ij")
    frame = torch.stack([x, y, (x * 7).sin().abs() * (y > 0.5)]).contiguous()
    image = frame.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    for matrix, (kr, kb) in LUMA_WEIGHTS.items():
        for value_range in ("MPEG", "JPEG"):
            reference = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv420p", src_color_range="JPEG", dst_colorspace=matrix, dst_color_range=value_range)
            ours = av.VideoFrame(96, 64, "yuv420p")
            views = plane_views(ours)
            pixels.yuv420p_u8(frame, *views, kr, kb, value_range == "JPEG")
            for index, (a, b) in enumerate(zip(views, plane_views(reference))):
                a, b = a.astype(int), b.astype(int)
                if index == 0:
                    assert np.abs(a - b).max() <= 1, (matrix, value_range)
                else:
                    assert abs((a - b).mean()) < 0.75 and np.abs(a - b).mean() < 1.5, (matrix, value_range, index)


def test_cpu_runner_layout_keeps_the_function():
    """The CPU runner puts fast's weights channels-last (faster convolutions) and lite's not
    (the GridNet's conversions cost more): the middle frame is the NCHW network's either way,
    an NCHW-contiguous tensor."""
    from fmsmi.engine.backends.torch_runner import TorchRunner
    from fmsmi.engine.interpolator import build_network
    torch.manual_seed(3)
    frame0 = torch.rand(1, 3, 48, 80)
    frame1 = torch.roll(frame0, 3, dims=3)
    for model, channels_last in (("fast", True), ("lite", False)):
        network, _ = build_network(model)
        with torch.inference_mode():
            expected = network(frame0, frame1)
        runner = TorchRunner(build_network(model)[0], "cpu")
        weight = runner.network.stem[0][0].weight
        assert weight.is_contiguous(memory_format=torch.channels_last) == channels_last and weight.dim() == 4
        out = runner(frame0, frame1)
        assert out.is_contiguous() and torch.allclose(out, expected, atol=1e-5), model
