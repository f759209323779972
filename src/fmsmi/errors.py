"""The project's one exception root and its branches.

Every error a user can cause or meet derives from :class:`FmsmiError`; the CLI turns
them into one line on stderr and exit code 2. Messages name the argument, the value
and what was expected.
"""

from __future__ import annotations


class FmsmiError(Exception):
    """Root of every error fmsmi raises on purpose."""


class ConfigError(FmsmiError, ValueError):
    """A setting or argument has a value fmsmi cannot use."""


class InputError(FmsmiError):
    """An input file (video, image, dataset, weights) is missing, unreadable or unusable."""


class BackendUnavailable(FmsmiError):
    """A requested backend cannot run here (no native library, no GPU, no TensorRT)."""


class NativeLibraryError(BackendUnavailable):
    """A native library of fmsmi.plugins is missing or failed to load."""
