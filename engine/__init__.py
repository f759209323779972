"""The interpolation engine: network, the AdaptiveSepConv op, weights, backends, Interpolator.

Public API (imported lazily so that ``import fmsmi.engine`` stays cheap):
``adaptive_sepconv``, ``Interpolator``, ``NetworkConfig``, ``CONFIGS``, ``get_config``.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "adaptive_sepconv": "fmsmi.engine.op",
    "Interpolator": "fmsmi.engine.interpolator",
    "NetworkConfig": "fmsmi.engine.network.config",
    "HeadConfig": "fmsmi.engine.network.config",
    "CONFIGS": "fmsmi.engine.network.config",
    "get_config": "fmsmi.engine.network.config",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fmsmi.engine' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
