"""Weight files: the shipped ones inside the package, and user-given paths.

A weight file is a ``torch.save`` of ``{"format": 1, "config": {...}, "state_dict": {...},
"meta": {...}}``; the config in the file must match the network it is loaded into.
"""

from __future__ import annotations

import dataclasses
import logging
from importlib import resources
from pathlib import Path

import torch

from fmsmi.errors import InputError

from .network.config import NetworkConfig

log = logging.getLogger(__name__)

FORMAT = 1


def shipped_weights(model: str) -> Path | None:
    """Path of the weights shipped for config ``model``, or None when none ship."""
    path = Path(str(resources.files("fmsmi.engine").joinpath("weights", f"{model}.pt")))
    return path if path.is_file() else None


# Config fields added after weight files were first written: stored only when they differ
# from their default, so files written before them still load.
_LATER_FIELDS = ("motion", "head_kernel", "refine_up_coarse")


def config_dict(config: NetworkConfig) -> dict:
    """The config as stored in a weight file (fields of ``_LATER_FIELDS`` at their default
    are left out, as in files written before the field existed)."""
    fields = dataclasses.asdict(config)
    defaults = {field.name: field.default for field in dataclasses.fields(NetworkConfig)}
    for name in _LATER_FIELDS:
        if fields.get(name) == defaults[name]:
            fields.pop(name, None)
    return fields


def save_weights(path: Path, config: NetworkConfig, state_dict: dict, meta: dict | None = None) -> None:
    """Write a weight file atomically (temporary file + rename)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    payload = {"format": FORMAT, "config": config_dict(config),
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}, "meta": meta or {}}
    torch.save(payload, temporary)
    temporary.replace(path)


def load_weights(path: Path, config: NetworkConfig) -> dict:
    """Read a weight file for ``config``; every problem is an InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file, often with long messages
        raise InputError(f"{path}: not a readable fmsmi weights file ({first_line(exc)})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state_dict" not in payload:
        raise InputError(f"{path}: not an fmsmi weights file (expected format {FORMAT} with a state_dict)")
    if payload.get("config") != config_dict(config):
        raise InputError(f"{path}: weights are for model config {payload.get('config', {}).get('name')!r} "
                         f"with different parameters, expected {config.name!r} as defined in this version")
    return payload


def apply_weights(network: torch.nn.Module, path: Path) -> None:
    """Load the weight file ``path`` into ``network``: every tensor present, each of the
    network's shape, or an InputError naming the file and the first differences."""
    state = load_weights(path, network.config)["state_dict"]
    expected = network.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    misshapen = [f"{name} {tuple(state[name].shape)} (expected {tuple(tensor.shape)})"
                 for name, tensor in expected.items()
                 if name in state and (not isinstance(state[name], torch.Tensor) or state[name].shape != tensor.shape)]
    problems = [f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                for label, names in (("missing tensors", missing), ("unknown tensors", unexpected),
                                     ("wrong shapes", misshapen)) if names]
    if problems:
        raise InputError(f"{path}: weights do not fit model {network.config.name!r}: {'; '.join(problems)}")
    network.load_state_dict(state)


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``: library messages can span many lines."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
