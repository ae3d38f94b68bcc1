"""Corridor maps on disk: loading a map folder and drawing it."""

from fleet.maps.files import load_corridor

__all__ = ["load_corridor"]
