"""Small helpers to build SDF 1.9 documents with :mod:`xml.etree.ElementTree`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from sim.gazebo.plugins import SystemPlugin

SDF_VERSION = "1.9"
Rgba = tuple[float, float, float, float]


def sdf_root() -> ET.Element:
    return ET.Element("sdf", version=SDF_VERSION)


def sub(parent: ET.Element, tag: str, text: object = None, **attributes: str) -> ET.Element:
    """Append ``<tag attributes>text</tag>`` to ``parent``; numbers are written compactly."""
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = number_text(text) if isinstance(text, float | int) and not isinstance(text, bool) else str(text)
    return element


def number_text(value: float) -> str:
    """Ten significant digits: sub-millimetre across a corridor of tens of kilometres, and no float noise."""
    return f"{value:.10g}"


def pose_text(x: float = 0.0, y: float = 0.0, z: float = 0.0, roll: float = 0.0, pitch: float = 0.0,
              yaw: float = 0.0) -> str:
    return " ".join(number_text(v) for v in (x, y, z, roll, pitch, yaw))


def add_material(parent: ET.Element, rgba: Rgba) -> ET.Element:
    material = sub(parent, "material")
    colour = " ".join(number_text(c) for c in rgba)
    sub(material, "ambient", colour)
    sub(material, "diffuse", colour)
    return material


def add_box_visual(link: ET.Element, name: str, pose: str, size: tuple[float, float, float], rgba: Rgba,
                   collide: bool = False, friction: float | None = None) -> ET.Element:
    """A box visual (and, if ``collide``, a matching collision) on ``link``."""
    size_text = " ".join(number_text(s) for s in size)
    if collide:
        collision = sub(link, "collision", name=f"{name}_collision")
        sub(collision, "pose", pose)
        sub(sub(sub(collision, "geometry"), "box"), "size", size_text)
        if friction is not None:
            add_friction(collision, friction)
    visual = sub(link, "visual", name=name)
    sub(visual, "pose", pose)
    sub(sub(sub(visual, "geometry"), "box"), "size", size_text)
    add_material(visual, rgba)
    return visual


def add_friction(collision: ET.Element, mu: float) -> None:
    """The same Coulomb friction coefficient in both directions of the contact."""
    ode = sub(sub(sub(collision, "surface"), "friction"), "ode")
    sub(ode, "mu", mu)
    sub(ode, "mu2", mu)


def box_inertia(mass: float, x: float, y: float, z: float) -> tuple[float, float, float]:
    """Principal moments (ixx, iyy, izz) of a solid box."""
    return mass * (y * y + z * z) / 12, mass * (x * x + z * z) / 12, mass * (x * x + y * y) / 12


def add_inertial(link: ET.Element, mass: float, moments: tuple[float, float, float], pose: str | None = None) -> None:
    inertial = sub(link, "inertial")
    if pose:
        sub(inertial, "pose", pose)
    sub(inertial, "mass", mass)
    inertia = sub(inertial, "inertia")
    ixx, iyy, izz = moments
    for key, value in (("ixx", ixx), ("ixy", 0.0), ("ixz", 0.0), ("iyy", iyy), ("iyz", 0.0), ("izz", izz)):
        sub(inertia, key, value)


def add_plugin(parent: ET.Element, plugin: SystemPlugin, parameters: Mapping[str, object]) -> ET.Element:
    """``<plugin filename name>`` with one child element per parameter."""
    element = sub(parent, "plugin", filename=plugin.filename, name=plugin.name)
    for key, value in parameters.items():
        sub(element, key, value)
    return element


def write_sdf(root: ET.Element, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
