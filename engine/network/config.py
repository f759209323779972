"""Typed, frozen configuration of the VFI_FMSMI network and the named configs.

Levels count halvings of the resolution: level 0 is the input size, level k is 1/2^k.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fmsmi.errors import ConfigError


@dataclass(frozen=True)
class HeadConfig:
    """One synthesis scale: per-pixel separable kernels of ``taps`` taps at ``level``."""

    level: int
    taps: int
    dilation: int = 1

    def reach(self) -> int:
        """Largest displacement the kernel can express, in full-resolution pixels."""
        return (self.taps - 1) // 2 * self.dilation * 2 ** self.level


@dataclass(frozen=True)
class MotionConfig:
    """Motion pre-alignment (motion.py): an exhaustive search of +-``radius`` pixels at
    ``coarse_level``, refined +-1 pixel per level down to ``fine_level``; costs are mean
    absolute grey differences over ``window`` x ``window`` blocks plus ``bias`` per pixel of
    coarse half-motion (which keeps flat, ambiguous regions still)."""

    coarse_level: int = 4
    radius: int = 3
    fine_level: int = 1
    window: int = 13
    bias: float = 0.015

    def __post_init__(self) -> None:
        if not 0 <= self.fine_level <= self.coarse_level:
            raise ConfigError(f"motion fine_level={self.fine_level}: expected 0..coarse_level={self.coarse_level}")
        if self.radius < 1:
            raise ConfigError(f"motion radius={self.radius}: expected >= 1")
        if self.window < 1 or self.window % 2 == 0:
            raise ConfigError(f"motion window={self.window}: expected an odd number >= 1")
        if self.bias < 0:
            raise ConfigError(f"motion bias={self.bias}: expected >= 0")

    def reach(self) -> int:
        """Largest full-resolution motion between the two frames the search can find."""
        return 2 * (self.radius * 2 ** self.coarse_level + 2 ** self.coarse_level - 2 ** self.fine_level)


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of VFI_FMSMI (DESIGN.md §1)."""

    name: str
    encoder_widths: tuple[int, ...]   # one width per encoder level, starting at first_level
    first_level: int                  # the encoder's first conv block works at 1/2^first_level
    stem_widths: tuple[int, ...]      # stride-2 convs from the input down to first_level (one per level)
    decoder_last_level: int           # the decoder climbs back up to this level
    convs_per_block: int
    heads: tuple[HeadConfig, ...]
    refine_widths: tuple[int, ...]    # GridNet rows, row k at level refine_first_level + k; () = none
    refine_first_level: int
    refine_columns: int               # columns in each half of the GridNet
    refine_convs: int = 2             # convolutions per GridNet block
    head_body: bool = True            # a conv+PReLU before each kernel head's output conv
    motion: MotionConfig | None = None  # motion pre-alignment of both frames (motion.py)
    head_kernel: int = 3              # kernel heads' output conv: 3x3, or 1x1 (per-pixel linear)
    refine_up_coarse: bool = False    # GridNet up-blocks convolve, then upsample (like Up)

    def __post_init__(self) -> None:
        if len(self.encoder_widths) < 2:
            raise ConfigError(f"encoder_widths={self.encoder_widths}: expected at least 2 levels")
        if len(self.stem_widths) != self.first_level:
            raise ConfigError(f"stem_widths={self.stem_widths}: expected one width per level below "
                              f"first_level={self.first_level}")
        last = self.first_level + len(self.encoder_widths) - 1
        if not self.first_level <= self.decoder_last_level < last:
            raise ConfigError(f"decoder_last_level={self.decoder_last_level}: expected in "
                              f"[{self.first_level}, {last - 1}]")
        if not self.heads:
            raise ConfigError("heads=(): expected at least one synthesis scale")
        levels = [head.level for head in self.heads]
        if len(set(levels)) != len(levels) or levels != sorted(levels):
            raise ConfigError(f"head levels {levels}: expected distinct levels in increasing order")
        for head in self.heads:
            if head.taps < 1 or head.taps % 2 == 0:
                raise ConfigError(f"heads[level={head.level}].taps={head.taps}: expected an odd number >= 1")
            if head.dilation < 1:
                raise ConfigError(f"heads[level={head.level}].dilation={head.dilation}: expected >= 1")
            if head.level > last:
                raise ConfigError(f"heads[level={head.level}]: expected a level <= deepest encoder level {last}")
        if self.head_kernel not in (1, 3):
            raise ConfigError(f"head_kernel={self.head_kernel}: expected 1 or 3")
        if not self.refine_widths:
            # no refinement: the output is the one synthesis, at full resolution
            if levels != [0]:
                raise ConfigError(f"refine_widths=() with head levels {levels}: expected a single head at level 0 "
                                  "(without a GridNet nothing fuses several scales)")
            return
        deepest_row = self.refine_first_level + len(self.refine_widths) - 1
        if levels[0] > self.refine_first_level:
            raise ConfigError(f"head levels {levels}: expected one at or above the first GridNet row "
                              f"level {self.refine_first_level}")
        if levels[-1] > deepest_row:
            raise ConfigError(f"head level {levels[-1]}: expected <= the deepest GridNet row level {deepest_row}")

    @property
    def deepest_level(self) -> int:
        return self.first_level + len(self.encoder_widths) - 1

    @property
    def deepest_row(self) -> int:
        """Level of the GridNet's coarsest row (0 without a GridNet)."""
        return self.refine_first_level + len(self.refine_widths) - 1 if self.refine_widths else 0

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this (the engine pads outside)."""
        return 2 ** max(self.deepest_level, self.deepest_row)

    @property
    def inference_multiple(self) -> int:
        """The size step PyTorch inference pads to: 2^(the deepest level an image enters, at
        the kernel heads or the GridNet rows, or where the encoder starts). The pyramid, the
        heads and the GridNet's folds divide exactly; deeper encoder maps may have odd sizes
        (stride-2 convolutions round up, upsampling goes to the skip's size). Saves padding
        360 to 384 rows: lite at 640x360 differs from its 640x384-padded output by -0.007 dB
        on average (29 Big Buck Bunny triplets, -0.05..+0.015). Export and TensorRT keep
        ``multiple``."""
        return 2 ** max(max(head.level for head in self.heads), self.deepest_row, self.first_level)

    def width_at(self, level: int) -> int:
        return self.encoder_widths[level - self.first_level]


# Real time on a 2-core CPU: stride-2 convs take the input to 1/4 where the encoder
# starts; kernels for the full-resolution synthesis are predicted at 1/4 and upsampled;
# the GridNet works at 1/4 and 1/8; a 1/8 head with dilation reaches large motion.
# The heads are 1x1 and the GridNet's up-block convolves at 1/8 before upsampling:
# least-squares refits of lite-r4's 3x3 heads and up-block lost 0.02 dB on DAVIS-30
# for 11 % of the forward pass (docs/weights.md, lite-r5).
_LITE = NetworkConfig(
    name="lite",
    encoder_widths=(16, 32, 48, 64),
    first_level=2,
    stem_widths=(8, 16),
    decoder_last_level=2,
    convs_per_block=1,
    heads=(HeadConfig(0, 5), HeadConfig(1, 7), HeadConfig(2, 9), HeadConfig(3, 9, 2)),
    refine_widths=(16, 32),
    refine_first_level=2,
    refine_columns=1,
    refine_convs=1,
    head_body=False,
    motion=MotionConfig(),
    head_kernel=1,
    refine_up_coarse=True,
)


CONFIGS: dict[str, NetworkConfig] = {
    # The seed (GPU-sized): widths 32..512, F=51 at scales 1, 1/2, 1/4, GridNet 32/64/96.
    "base": NetworkConfig(
        name="base",
        encoder_widths=(32, 64, 128, 256, 512),
        first_level=0,
        stem_widths=(),
        decoder_last_level=1,
        convs_per_block=3,
        heads=(HeadConfig(0, 51), HeadConfig(1, 51), HeadConfig(2, 51)),
        refine_widths=(32, 64, 96),
        refine_first_level=0,
        refine_columns=3,
    ),
    "lite": _LITE,
    # The CPU default: lite's alignment, stem, encoder levels 1/4 and 1/8, decoder and
    # full-resolution head -- one synthesis, no coarser kernel heads, no GridNet, no encoder
    # levels at 1/16 and 1/32. On lite-r6's tensors the GridNet and the three coarser scales
    # bought 0.15 dB on DAVIS-30 for 44 % of the 640x360 forward pass (fast-r1); with the
    # motion pre-alignment doing the large motion, the two deepest levels then bought 0.04 dB
    # on DAVIS-30 and 0.15 on held-out clip triplets for 4.7 of fast-r1's 12.8 ms of features
    # (fast-r2; docs/weights.md).
    "fast": replace(_LITE, name="fast", encoder_widths=(16, 32), heads=(HeadConfig(0, 5),), refine_widths=()),
}


def get_config(name: str) -> NetworkConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"model={name!r}: expected one of {sorted(CONFIGS)}") from None
