"""Media I/O on PyAV: probe, decode to RGB, encode with stream copy, scene cuts.

No torch here: the live player and the file export share these modules.
"""

from __future__ import annotations

from .decode import DecodedFrame, VideoDecoder
from .encode import EncodeSettings, VideoEncoder
from .probe import Colour, VideoInfo, probe
from .scene import SceneCutDetector

__all__ = ["Colour", "DecodedFrame", "EncodeSettings", "SceneCutDetector", "VideoDecoder", "VideoEncoder",
           "VideoInfo", "probe"]
