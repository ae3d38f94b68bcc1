"""Drawing a corridor with matplotlib: an overview plus close-ups of each side's complex and the border.

Nothing here knows any particular corridor: the close-ups are found from the map (the nodes where AGVs
stop on each side, and the crossing lanes), their titles from its zones and labels from its node ids;
names in Vietnamese or Chinese are drawn with :func:`fleet.maps.fonts.use_map_fonts`.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patches import Polygon as PolygonPatch

from fleet.maps.fonts import use_map_fonts
from planner.corridor import BORDER_LINE_KINDS, Corridor, NodeKind

SIDE_COLOURS = ("#d9534f", "#f0ad4e")  # first jurisdiction, second jurisdiction
NODE_STYLE: dict[NodeKind, tuple[str, str, float]] = {  # marker, colour, size
    NodeKind.WAYPOINT: (".", "#555555", 3),
    NodeKind.PARKING: ("s", "#6c757d", 9),
    NodeKind.CHARGER: ("P", "#28a745", 30),
    NodeKind.DOCK: ("^", "#0056b3", 45),
    NodeKind.GATE: ("s", "#000000", 45),
    NodeKind.INSPECTION: ("D", "#6f42c1", 35),
    NodeKind.HOLDING: ("h", "#17a2b8", 35),
    NodeKind.BORDER: ("X", "#000000", 50),
    NodeKind.HANDOFF: ("*", "#e83e8c", 120),
}
LABELLED = {NodeKind.GATE, NodeKind.DOCK, NodeKind.INSPECTION, NodeKind.HOLDING, NodeKind.HANDOFF, NodeKind.BORDER}


def render_corridor(corridor: Corridor, out: str | Path, dpi: int = 130) -> Path:
    """Write a PNG (or SVG, by suffix) of the corridor to ``out`` and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    use_map_fonts()
    fig = plt.figure(figsize=(20, 10.5), layout="constrained")
    grid = fig.add_gridspec(1, 4, width_ratios=[0.55, 1.3, 1.3, 0.75])
    overview = fig.add_subplot(grid[0])
    a, b = corridor.jurisdictions
    boxes = [(_complex_box(corridor, a), a), (_complex_box(corridor, b), b), (_border_box(corridor), None)]
    closeups = [(fig.add_subplot(grid[k + 1]), box, _title(corridor, box, side)) for k, (box, side) in enumerate(boxes)]
    _draw(overview, corridor, labels=False)
    fig.suptitle(f"{corridor.name}  (local frame: x east, y north, metres)", fontsize=12)
    overview.set_title("overview", fontsize=10)
    for ax, box, title in closeups:
        _draw(ax, corridor, labels=True, box=box)
        ax.set_title(title, fontsize=10)
        _mark_box(overview, box)
    _legend(fig, corridor)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def _draw(ax: Axes, corridor: Corridor, labels: bool, box: tuple[float, float, float, float] | None = None) -> None:
    colour = dict(zip(corridor.jurisdictions, SIDE_COLOURS))
    for zone in corridor.zones.values():
        ax.add_patch(PolygonPatch(np.asarray(zone.polygon.exterior.coords), closed=True, alpha=0.18,
                                  facecolor=colour[zone.jurisdiction], edgecolor=colour[zone.jurisdiction], lw=0.8))
        if labels and box:
            x0, _, _, y1 = zone.polygon.bounds
            if _inside((x0, y1), box):
                ax.annotate(zone.name or zone.id, (x0, y1), xytext=(2, -9), textcoords="offset points",
                            fontsize=7, color="#333333", style="italic")
    lanes = list(corridor.lanes.values())
    segments = [np.asarray(lane.geometry.coords) for lane in lanes]
    styles = [("#c00000", 2.2) if lane.crossing else ("#1f77b4", 1.0) if lane.lane_group else ("#444444", 0.7)
              for lane in lanes]
    ax.add_collection(LineCollection(segments, colors=[s[0] for s in styles], linewidths=[s[1] for s in styles],
                                     linestyles=["--" if lane.lane_group else "-" for lane in lanes]))
    if box:  # direction arrows only where they can be seen
        mids, dirs = [], []
        for lane in lanes:
            start, end = np.asarray(lane.geometry.coords[0]), np.asarray(lane.geometry.coords[-1])
            mid = lane.geometry.interpolate(0.5, normalized=True).coords[0]
            if _inside(mid, box) and lane.lane_group is None:
                mids.append(mid)
                dirs.append((end - start) / max(np.linalg.norm(end - start), 1e-9))
        if mids:
            m, d = np.asarray(mids), np.asarray(dirs)
            ax.quiver(m[:, 0], m[:, 1], d[:, 0], d[:, 1], color="#222222", scale=60, width=0.0025,
                      headwidth=4, headlength=5, pivot="mid", zorder=3)
    border = corridor.border_line
    for line in getattr(border, "geoms", [border]):
        xs, ys = line.xy
        ax.plot(xs, ys, color="black", lw=3, ls=(0, (4, 2)), zorder=4)
    for kind, (marker, col, size) in NODE_STYLE.items():
        pts = np.asarray([(n.x, n.y) for n in corridor.nodes.values() if n.kind == kind])
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], marker=marker, c=col, s=size if box else size / 3, zorder=5,
                       edgecolors="white" if kind in BORDER_LINE_KINDS else "none", linewidths=0.5)
    if labels and box:
        prefixes = _side_prefixes(corridor)
        for node in corridor.nodes.values():
            if node.kind in LABELLED and _inside((node.x, node.y), box):
                ax.annotate(node.id.removeprefix(prefixes.get(node.jurisdiction, "")), (node.x, node.y),
                            xytext=(3, 3), textcoords="offset points", fontsize=6.5, zorder=6)
    if box:
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
    else:
        ax.autoscale_view()
    ax.set_aspect("equal", adjustable="box" if box else "datalim")
    ax.tick_params(labelsize=7)
    ax.grid(True, lw=0.3, alpha=0.5)


def _title(corridor: Corridor, box: tuple[float, float, float, float], side: str | None) -> str:
    """A close-up's title from the map: the side and the kinds of its zones in view; for the border, what
    is drawn there (the zones the crossing lanes run through, a relay pad if any)."""
    if side is not None:
        kinds = sorted({z.kind for z in corridor.zones.values() if z.jurisdiction == side and _overlaps(z, box)})
        return f"{side} side: {', '.join(k.replace('_', ' ') for k in kinds)}"
    under = sorted({z.kind.replace("_", " ") for lane in corridor.crossing_lanes for z in corridor.zones.values()
                    if z.polygon.intersects(lane.geometry)})
    pad = ", handoff pad" if corridor.nodes_of(NodeKind.HANDOFF) else ""
    return f"border line: crossing lanes{pad}\n(in the {', '.join(under)} zones)"


def _overlaps(zone, box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = zone.polygon.bounds
    return x0 < box[2] and box[0] < x1 and y0 < box[3] and box[1] < y1


def _complex_box(corridor: Corridor, side: str) -> tuple[float, float, float, float]:
    stops = [n for n in corridor.nodes.values()
             if n.jurisdiction == side and n.kind not in (NodeKind.WAYPOINT, *BORDER_LINE_KINDS)]
    return _pad_box([(n.x, n.y) for n in stops], 40.0)


def _border_box(corridor: Corridor) -> tuple[float, float, float, float]:
    points = [c for lane in corridor.crossing_lanes for c in lane.geometry.coords]
    return _pad_box(points, 30.0)


def _pad_box(points: list[tuple[float, float]], pad: float) -> tuple[float, float, float, float]:
    xy = np.asarray(points)
    return (xy[:, 0].min() - pad, xy[:, 1].min() - pad, xy[:, 0].max() + pad, xy[:, 1].max() + pad)


def _inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _mark_box(ax: Axes, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="#007bff", lw=1.0)


def _side_prefixes(corridor: Corridor) -> dict[str, str]:
    """Per jurisdiction, the id prefix all its (non border-line) nodes share up to an underscore, e.g.
    ``vn_``: labels leave it out, the colour already tells the side."""
    prefixes = {}
    for side in corridor.jurisdictions:
        ids = [n.id for n in corridor.nodes.values() if n.jurisdiction == side and n.kind not in BORDER_LINE_KINDS]
        common = os.path.commonprefix(ids) if ids else ""  # noqa: RUF071 (ids, not paths: by character)
        prefixes[side] = common[:common.rfind("_") + 1]
    return prefixes


def _legend(fig: plt.Figure, corridor: Corridor) -> None:
    handles: list = [Patch(facecolor=c, alpha=0.3, label=f"{j} jurisdiction")
                     for j, c in zip(corridor.jurisdictions, SIDE_COLOURS)]
    handles += [Line2D([], [], color="black", lw=3, ls=(0, (4, 2)), label="border line"),
                Line2D([], [], color="#c00000", lw=2.2, label="crossing lane (gated on customs)"),
                Line2D([], [], color="#444444", lw=0.8, label="directed lane (arrow = direction)"),
                Line2D([], [], color="#1f77b4", lw=1.0, ls="--", label="two-way single lane (lane group)")]
    handles += [Line2D([], [], marker=m, color=c, ls="", markersize=7, label=str(k))
                for k, (m, c, _) in NODE_STYLE.items() if k != NodeKind.WAYPOINT]
    fig.legend(handles=handles, loc="outside lower center", ncol=9, fontsize=8.5, frameon=False)
