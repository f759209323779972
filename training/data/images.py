"""Image files as HxWx3 uint8 arrays, read and written with PyAV (already a dependency)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from fmsmi.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to an HxWx3 uint8 RGB array; InputError names the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: image file not found")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, StopIteration, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from exc


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an HxWx3 uint8 array as a PNG file."""
    image = np.ascontiguousarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"{path}: expected an HxWx3 uint8 image, got shape {image.shape} dtype {image.dtype}")
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = image.shape[1], image.shape[0], "rgb24"
    packets = codec.encode(av.VideoFrame.from_ndarray(image, format="rgb24")) + codec.encode(None)
    Path(path).write_bytes(b"".join(bytes(packet) for packet in packets))


def find_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: image folder not found")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
