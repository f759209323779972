"""Training triplets: video clips, Vimeo90K, synthetic motion, a weighted mix, a batch loader.

A batch is a float32 tensor (N, 3, 3, H, W) in [0, 1]: (frame0, middle, frame1) per sample.
"""

from .base import (
    MixedSource,
    Triplet,
    TripletSource,
    augment,
    center_crop,
    random_crop,
    to_batch,
)
from .images import find_images, read_image, write_image
from .loader import BatchLoader, make_batch
from .synthetic import SyntheticMotion
from .textures import TextureBank
from .video import Clip, ClipTriplets, decode_frames, find_videos, load_clip, load_clips
from .vimeo import VimeoTriplets

__all__ = [
    "BatchLoader", "Clip", "ClipTriplets", "MixedSource", "SyntheticMotion", "TextureBank", "Triplet",
    "TripletSource", "VimeoTriplets", "augment", "center_crop", "decode_frames", "find_images", "find_videos",
    "load_clip", "load_clips", "make_batch", "random_crop", "read_image", "to_batch", "write_image",
]
