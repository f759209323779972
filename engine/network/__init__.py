"""The VFI_FMSMI network and its configurations."""

from .config import CONFIGS, HeadConfig, NetworkConfig, get_config
from .model import VFIFMSMI

__all__ = ["CONFIGS", "HeadConfig", "NetworkConfig", "VFIFMSMI", "get_config"]
