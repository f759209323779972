"""Defaults shared by the engine and its callers; no heavy imports (the CLI reads them to
build its help before torch loads)."""

from __future__ import annotations

# The network config the Interpolator, the CLI commands and the player use unless told
# otherwise: ``fast`` (engine/network/config.py; docs/weights.md has the speed/quality table).
DEFAULT_MODEL = "fast"
