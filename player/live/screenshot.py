"""Screenshots: the window's back buffer (``glReadPixels``) written as a PNG.

The PNG writer uses only the standard library (zlib), so screenshots need no imaging
package. ``--screenshot-at SEC FILE.png`` takes the first frame presented at or after SEC
seconds of the video; the ``s`` key writes ``fmsmi-<video>-<seconds>.png`` to the current
folder.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from fmsmi.errors import ConfigError


def encode_png(image: np.ndarray) -> bytes:
    """HxWx3 (RGB) or HxWx4 (RGBA) uint8 -> PNG bytes."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image: expected HxWx3 or HxWx4 uint8, got {image.shape} {image.dtype}")
    height, width, channels = image.shape
    colour_type = 2 if channels == 3 else 6
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0                                   # filter type "none" for every row
    rows[:, 1:] = image.reshape(height, width * channels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def write_png(path: str | Path, image: np.ndarray) -> Path:
    path = Path(path)
    try:
        path.write_bytes(encode_png(image))
    except OSError as exc:
        raise ConfigError(f"screenshot {path}: cannot write ({exc.strerror or exc})") from exc
    return path


def check_writable(path: str | Path) -> Path:
    """Fail early (before playback) when ``path``'s folder does not exist or is not a PNG name."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--screenshot-at FILE={str(path)!r}: expected a .png file name")
    if not path.parent.is_dir():
        raise ConfigError(f"--screenshot-at FILE={str(path)!r}: folder {str(path.parent)!r} does not exist")
    return path
