"""Motion pre-alignment (engine/network/motion.py): the bilateral field and the warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmsmi.engine.network.config import MotionConfig
from fmsmi.engine.network.motion import align, box, half_motion
from fmsmi.engine.op import alignment
from fmsmi.errors import ConfigError

CONFIG = MotionConfig()
# the field is searched down to 1/2^fine_level: half-motions come in steps of that many pixels
STEP = 2 ** CONFIG.fine_level


def texture(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """(1,3,H,W) random mosaic with edges at 4, 16 and 64 pixels (like a photograph's
    objects and texture): block matching has contrast to lock on at every level, and no
    two places look alike."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.zeros(1, 3, height, width)
    for scale, weight in ((4, 0.2), (16, 0.3), (64, 0.5)):
        tiles = torch.rand(1, 3, height // scale + 3, width // scale + 3, generator=generator)
        layer = torch.nn.functional.interpolate(tiles, scale_factor=scale, mode="nearest")
        image += layer[..., scale // 2:scale // 2 + height, scale // 2:scale // 2 + width] * weight
    return image.clamp(0, 1)


def shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Content moved by (dy, dx) (replicate border)."""
    height, width = image.shape[-2:]
    rows = (torch.arange(height) - dy).clamp(0, height - 1)
    cols = (torch.arange(width) - dx).clamp(0, width - 1)
    return image[..., rows, :][..., cols]


@pytest.mark.parametrize("dy,dx", [(0, 24), (-16, 8), (18, -40), (8, 8), (40, 64)])
def test_global_motion_is_found_and_both_frames_meet_in_the_middle(dy, dx):
    """Camera-like motion of a 512x288 frame (the field is smooth: windows of 13 blocks)."""
    big = texture(288, 512)
    frame0, frame1 = big, shifted(big, dy, dx)
    motion = half_motion(frame0, frame1, CONFIG)
    inner = (slice(None), slice(None), slice(96, 192), slice(128, 384))
    error = torch.maximum((motion[inner][:, 0] - dy / 2).abs(), (motion[inner][:, 1] - dx / 2).abs()).flatten()
    # block matching on flat tiles has an aperture problem: judge the bulk, not every pixel
    assert error.median() <= STEP / 2 and error.quantile(0.95) <= STEP
    aligned0, aligned1 = align(frame0, frame1, CONFIG)
    before = (frame0 - frame1)[inner].abs().mean()
    after = (aligned0 - aligned1)[inner].abs().mean()
    assert after < 0.5 * before
    middle = shifted(big, dy // 2, dx // 2)       # both frames became (nearly) the middle frame
    assert (aligned0 - middle)[inner].abs().mean() < 0.5 * (frame0 - middle)[inner].abs().mean()
    assert (aligned1 - middle)[inner].abs().mean() < 0.5 * (frame1 - middle)[inner].abs().mean()


def test_still_frames_are_left_exactly_as_they_are():
    frame = texture(96, 128)
    motion = half_motion(frame, frame.clone(), CONFIG)
    assert motion.abs().max() == 0
    aligned0, aligned1 = align(frame, frame.clone(), CONFIG)
    torch.testing.assert_close(aligned0, frame, atol=1e-5, rtol=0)     # grid_sample's rounding
    torch.testing.assert_close(aligned1, frame, atol=1e-5, rtol=0)


def test_a_small_moving_object_leaves_the_background_still():
    """The field follows what fills its windows: a small object's motion is left to the
    kernels, and the still background around it is not dragged along."""
    background = texture(288, 512, seed=1)
    sprite = texture(32, 32, seed=2)
    frame0, frame1 = background.clone(), background.clone()
    frame0[..., 128:160, 200:232] = sprite
    frame1[..., 128:160, 224:256] = sprite            # 24 px to the right
    motion = half_motion(frame0, frame1, CONFIG)
    assert motion.abs().max() <= STEP
    assert motion[0, :, :, 360:].abs().max() == 0


def test_the_motion_search_reaches_what_its_config_says():
    # the coarse search's +-3 blocks of 16 px, then +-1 pixel at 1/8, 1/4 and 1/2; x2: both frames
    assert CONFIG.reach() == 2 * (3 * 16 + 8 + 4 + 2)
    big = texture(256, 384)
    for dx in (CONFIG.reach() - 24, CONFIG.reach() + 24):    # within reach, beyond it
        motion = half_motion(big, shifted(big, 0, dx), CONFIG)
        found = abs(motion[0, 1, 96:160, 160:224].median().item() - dx / 2) <= STEP
        assert found == (dx <= CONFIG.reach())


def test_small_frames_pass_through():
    frame0, frame1 = torch.rand(1, 3, 8, 12), torch.rand(1, 3, 8, 12)
    aligned0, aligned1 = align(frame0, frame1, CONFIG)
    assert aligned0 is frame0 and aligned1 is frame1


def test_batch_items_are_independent():
    a, b = texture(64, 96, seed=3), texture(64, 96, seed=4)
    batch = half_motion(torch.cat([a, b]), torch.cat([shifted(a, 0, 8), shifted(b, 6, 0)]), CONFIG)
    torch.testing.assert_close(batch[:1], half_motion(a, shifted(a, 0, 8), CONFIG))
    torch.testing.assert_close(batch[1:], half_motion(b, shifted(b, 6, 0), CONFIG))


@pytest.mark.parametrize("window", [1, 3, 13])
def test_box_is_the_mean_over_the_window_inside_the_image(window):
    values = torch.rand(2, 3, 9, 17, dtype=torch.float64)
    expected = torch.nn.functional.avg_pool2d(values, window, stride=1, padding=window // 2, count_include_pad=False)
    torch.testing.assert_close(box(values, window), expected)


@pytest.mark.parametrize("change,match", [
    (dict(fine_level=5), "fine_level"), (dict(radius=0), "radius"), (dict(window=4), "window"),
    (dict(bias=-1.0), "bias")])
def test_bad_motion_config_is_refused(change, match):
    with pytest.raises(ConfigError, match=match):
        MotionConfig(**change)


def test_no_gradient_flows_into_the_field_but_into_the_frames():
    frame0 = texture(64, 64).requires_grad_()
    frame1 = shifted(texture(64, 64), 0, 6).requires_grad_()
    aligned0, aligned1 = align(frame0, frame1, CONFIG)
    (aligned0.sum() + aligned1.sum()).backward()
    assert np.isfinite(frame0.grad.numpy()).all() and frame0.grad.abs().sum() > 0


native_missing = alignment.unavailable_reason()


def noisy_pair(dy: int, dx: int, size: tuple[int, int]):
    """A batch of two pairs (the second its reverse, darker): a mosaic with sensor-like noise
    (a flat mosaic is full of exact cost ties) moving by (dy, dx), a still object on top."""
    generator = torch.Generator().manual_seed(7)
    big = (texture(*size, seed=5) + 0.03 * torch.rand(1, 3, *size, generator=generator)).clamp(0, 1)
    frame0 = big.clone()
    frame0[..., 40:90, 60:120] = texture(50, 60, seed=6)
    frame1 = shifted(big, dy, dx)
    frame1[..., 40:90, 60:120] = frame0[..., 40:90, 60:120]
    return torch.cat([frame0, frame1 * 0.9]), torch.cat([frame1, frame0 * 0.9])


@pytest.mark.skipif(native_missing is not None, reason=f"native alignment: {native_missing}")
@pytest.mark.parametrize("dy,dx,size", [(8, -32, (288, 512)), (0, 0, (96, 128)), (-44, 20, (360, 640)),
                                        (4, 4, (37 * 16, 19 * 16)), (10, -30, (288, 512))])
def test_native_alignment_is_the_pytorch_alignment(dy, dx, size):
    """fmsmi_motion_align_f32 computes motion.align with the same arithmetic up to float
    rounding (the field after the first refinement agrees to ~5e-7 px). Where two candidates
    are equally good to that rounding (a motion halfway between two candidates of a level),
    either may win, pixel by pixel: the two alignments then differ in places but align the
    frames equally well."""
    frames = noisy_pair(dy, dx, size)
    with torch.no_grad():
        expected = align(*frames, CONFIG)
    got = alignment.fused_align(*frames, CONFIG)
    residual = [(pair[0] - pair[1]).abs().mean().item() for pair in (expected, got)]
    assert residual[1] <= 1.05 * residual[0] + 1e-6
    for want, have in zip(expected, got):
        assert ((want - have).abs() < 1e-3).float().mean() > 0.6      # 0.68-1.0 measured
    if dy or dx:
        assert residual[0] < 0.5 * (frames[0] - frames[1]).abs().mean().item()


@pytest.mark.skipif(native_missing is not None, reason=f"native alignment: {native_missing}")
def test_the_network_takes_the_native_alignment_for_cpu_inference(monkeypatch):
    from fmsmi.engine import get_config
    from fmsmi.engine.network import VFIFMSMI
    calls = []
    real = alignment.fused_align
    monkeypatch.setattr(alignment, "fused_align", lambda *args: calls.append(1) or real(*args))
    network = VFIFMSMI(get_config("lite")).eval()
    frame0 = texture(64, 96)
    frame1 = shifted(frame0, 0, 8)
    with torch.no_grad():
        native = network(frame0, frame1)
    assert calls == [1]
    composed = network(frame0, frame1).detach()      # autograd on: the PyTorch composition
    assert calls == [1]
    assert (native - composed).abs().max() < 1e-3


def test_native_alignment_refuses_bad_input():
    if native_missing is not None:
        pytest.skip(f"native alignment: {native_missing}")
    with pytest.raises(ConfigError, match="frame0"):
        alignment.fused_align(torch.rand(1, 3, 32, 32, dtype=torch.float64), torch.rand(1, 3, 32, 32), CONFIG)
    with pytest.raises(ConfigError, match="frame1.shape"):
        alignment.fused_align(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 48), CONFIG)


@pytest.mark.skipif(native_missing is not None, reason=f"native alignment: {native_missing}")
def test_native_alignment_copies_where_nothing_moves():
    """Where the field is zero (most of most frames) the native warp copies the pixel."""
    frame = texture(96, 128)
    moved = frame.clone()
    moved[..., :, 64:] = shifted(frame, 0, 16)[..., :, 64:]      # the right half pans
    aligned0, aligned1 = alignment.fused_align(frame, moved, CONFIG)
    assert torch.equal(alignment.fused_align(frame, frame.clone(), CONFIG)[0], frame)
    still = (slice(None), slice(None), slice(None), slice(0, 8))    # far left: no motion
    assert torch.equal(aligned0[still], frame[still]) and torch.equal(aligned1[still], moved[still])


@pytest.mark.skipif(native_missing is not None, reason=f"native alignment: {native_missing}")
def test_the_stem_reads_the_native_alignment_pair_without_a_copy():
    """For one image the fused alignment writes frame1's result right after frame0's, and the
    network's stem input is a view of that memory -- the same values as concatenating."""
    from fmsmi.engine.network.model import channel_stack
    frame0 = texture(64, 96)
    frame1 = shifted(frame0, 0, 8)
    aligned0, aligned1 = alignment.fused_align(frame0, frame1, CONFIG)
    stacked = channel_stack(aligned0, aligned1)
    assert stacked.data_ptr() == aligned0.data_ptr()
    assert torch.equal(stacked, torch.cat([aligned0, aligned1], 1))
    batch = alignment.fused_align(torch.cat([frame0, frame1]), torch.cat([frame1, frame0]), CONFIG)
    assert torch.equal(batch[0][:1], aligned0) and torch.equal(batch[1][:1], aligned1)
    assert torch.equal(channel_stack(*batch), torch.cat(batch, 1))
    assert torch.equal(channel_stack(frame0, frame1), torch.cat([frame0, frame1], 1))   # separate tensors
