"""MovingAI MAPF benchmark grids (../shared/data/movingai) as corridor graphs for the timed planner.

Every free cell is a node where a vehicle may wait (a parking place), every pair of 4-connected free cells
two lanes of 1 m driven at 1 m/s, so a move takes one time unit as in the MAPF benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from planner.corridor import NodeKind
from planner.schedule import FollowingRules

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "movingai"
FREE = frozenset(".G")
#: a vehicle 1 cm long at 1 m/s: a cell is free 0.01 s after its agent leaves, close to the benchmark's
#: "free as soon as it leaves" while keeping the positive clearance the rules require
RULES = FollowingRules(vehicle_length_m=0.01, standstill_gap_m=0.0, headway_s=0.0)


@dataclass(frozen=True)
class Agent:
    start: str
    goal: str


def cell(x: int, y: int) -> str:
    return f"c{x}_{y}"


def read_grid(path: Path) -> nx.DiGraph:
    lines = path.read_text().splitlines()
    if lines[0].strip() != "type octile" or lines[3].strip() != "map":
        raise ValueError(f"{path}: not a MovingAI map (header {lines[:4]})")
    height, width = int(lines[1].split()[1]), int(lines[2].split()[1])
    rows = lines[4:4 + height]
    free = {(x, y) for y, row in enumerate(rows) for x, c in enumerate(row[:width]) if c in FREE}
    graph = nx.DiGraph()
    for x, y in sorted(free):
        graph.add_node(cell(x, y), kind=NodeKind.PARKING, jurisdiction="VN", zone="grid", x=float(x), y=float(y))
    for x, y in sorted(free):
        for nx_, ny in ((x + 1, y), (x, y + 1)):
            if (nx_, ny) in free:
                for a, b in ((cell(x, y), cell(nx_, ny)), (cell(nx_, ny), cell(x, y))):
                    graph.add_edge(a, b, lane=f"{a}->{b}", length=1.0, max_speed=1.0, travel_time=1.0,
                                   crossing=False, lane_group=None, conflict_zones=())
    return graph


def read_scenario(path: Path, count: int) -> list[Agent]:
    """The first ``count`` agents of a ``.scen`` file (tab-separated; x is the column, y the row)."""
    lines = path.read_text().splitlines()
    if not lines[0].startswith("version"):
        raise ValueError(f"{path}: not a MovingAI scenario")
    agents = []
    for line in lines[1:count + 1]:
        f = line.split("\t")
        agents.append(Agent(cell(int(f[4]), int(f[5])), cell(int(f[6]), int(f[7]))))
    if len(agents) < count:
        raise ValueError(f"{path}: only {len(agents)} agents, {count} asked")
    return agents


def lower_bound(graph: nx.DiGraph, agents: list[Agent]) -> int:
    """The sum of each agent's shortest path alone: no plan's sum of costs is below it."""
    return sum(nx.shortest_path_length(graph, a.start, a.goal) for a in agents)
