"""Small helpers for writing SDF 1.9 with xml.etree."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from sim.gazebo.plugins import System

SDF_VERSION = "1.9"


def sub(parent: ET.Element, tag: str, text: object | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = fmt(text)
    return element


def fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple | list):
        return " ".join(fmt(v) for v in value)
    return str(value)


def pose(parent: ET.Element, x: float = 0.0, y: float = 0.0, z: float = 0.0, yaw: float = 0.0,
         roll: float = 0.0, pitch: float = 0.0) -> ET.Element:
    return sub(parent, "pose", (x, y, z, roll, pitch, yaw))


def material(parent: ET.Element, rgba: tuple[float, float, float, float]) -> None:
    m = sub(parent, "material")
    sub(m, "ambient", rgba)
    sub(m, "diffuse", rgba)


def box_geometry(parent: ET.Element, size: tuple[float, float, float]) -> None:
    sub(sub(sub(parent, "geometry"), "box"), "size", size)


def plugin(parent: ET.Element, system: System, **params: object) -> ET.Element:
    element = sub(parent, "plugin", filename=system.filename, name=system.name)
    for key, value in params.items():
        sub(element, key, value)
    return element


def box_inertia(link: ET.Element, mass: float, size: tuple[float, float, float], z: float = 0.0) -> None:
    a, b, c = size
    inertial = sub(link, "inertial")
    pose(inertial, z=z)
    sub(inertial, "mass", mass)
    i = sub(inertial, "inertia")
    for tag, value in (("ixx", mass * (b * b + c * c) / 12), ("iyy", mass * (a * a + c * c) / 12),
                       ("izz", mass * (a * a + b * b) / 12), ("ixy", 0.0), ("ixz", 0.0), ("iyz", 0.0)):
        sub(i, tag, value)


def cylinder_inertia(link: ET.Element, mass: float, radius: float, length: float) -> None:
    inertial = sub(link, "inertial")
    sub(inertial, "mass", mass)
    i = sub(inertial, "inertia")
    side = mass * (3 * radius * radius + length * length) / 12
    for tag, value in (("ixx", side), ("iyy", side), ("izz", mass * radius * radius / 2), ("ixy", 0.0),
                       ("ixz", 0.0), ("iyz", 0.0)):
        sub(i, tag, value)


def sdf_document(content: ET.Element) -> ET.ElementTree:
    """``<sdf version="1.9">`` around a world or model element."""
    root = ET.Element("sdf", version=SDF_VERSION)
    root.append(content)
    return ET.ElementTree(root)


def write(tree: ET.ElementTree, path) -> None:
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


HALF_PI = math.pi / 2
