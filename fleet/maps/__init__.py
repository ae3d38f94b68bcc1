"""Corridor maps on disk: loading a map folder and drawing it."""

from fleet.maps.files import default_map_folder, load_corridor, shipped_maps

__all__ = ["default_map_folder", "load_corridor", "shipped_maps"]
