"""The built-in narrator: deterministic, scene-aware prose with no model and no network."""

from .provider import OfflineProvider

__all__ = ["OfflineProvider"]
