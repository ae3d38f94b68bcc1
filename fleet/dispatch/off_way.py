"""Vehicles off their way, where the fleet's plan and the vehicle's own report disagree with where it stands.

Set down by people: a vehicle moved by hand (in MANUAL mode, say) still reports the node it last reached, but
stands elsewhere. Set down on a place where vehicles stand (a parking spot, a charger, a dock, a holding bay)
within the deviation our orders allow at a node (``AT_A_NODE_M``), it can be taken from there: a new order that
starts at that place is one it accepts (VDA 5050: the first node of a new order is where the vehicle stands, within
its allowed deviation). Anywhere else, people drive it back (``AlarmKind.VEHICLE_OFF_ITS_WAY``).

Between nodes: a vehicle cancelled there (VDA 5050 ``cancelOrder``) brakes where it is, and no new order can start
there; the dispatchers' cancel of a vehicle is refused unless it stands at a node.
"""

from __future__ import annotations

from agv_agent.protocol import MAP_ID, OrderNode, Pose, VehicleState
from agv_agent.tracker import distance

from planner.corridor import Corridor, Node, NodeKind

#: the kinds of place a vehicle set down by hand is taken from; not a customs gate or an inspection bay (customs'
#: places), nor a waypoint on a lane (in the way of the traffic)
SET_DOWN_KINDS = (NodeKind.PARKING, NodeKind.CHARGER, NodeKind.DOCK, NodeKind.HOLDING)
#: how near a node a vehicle must stand to be at it: the deviation our orders allow at a node (``fleet.dispatch.vda``),
#: within which it takes a new order starting there
AT_A_NODE_M = OrderNode.allowed_deviation_xy
#: another vehicle whose centre is this near a place stands on it (metres: a vehicle's half length and more)
OCCUPIED_WITHIN_M = 2.0


def stands_on(node: Node, pose: Pose) -> bool:
    """Whether a vehicle at ``pose`` stands on the place ``node`` (and no other vehicle can)."""
    return distance(pose, node.x, node.y) <= OCCUPIED_WITHIN_M


def set_down_at(corridor: Corridor, pose: Pose, jurisdiction: str) -> Node | None:
    """The place of the side ``jurisdiction`` that a vehicle standing at ``pose`` was set down on, or None
    (between places, on a lane, or on the other side: a vehicle carried across the border is the border watch's)."""
    return next((node for node in corridor.nodes_of(*SET_DOWN_KINDS, jurisdiction=jurisdiction)
                 if distance(pose, node.x, node.y) <= AT_A_NODE_M), None)


def between_nodes(corridor: Corridor, state: VehicleState) -> str | None:
    """Why the vehicle is not at a node (driving, or standing farther than ``AT_A_NODE_M`` from the node it last
    reached), in words; None when it stands at one, or its position on our map is not known."""
    if state.driving:
        return f"{state.vehicle_id} is driving"
    node = corridor.nodes.get(state.last_node_id)
    if node is None or not state.position_initialized or state.map_id != MAP_ID:
        return None
    metres = distance(state.pose, node.x, node.y)
    return f"{state.vehicle_id} stands {metres:.1f} m from {node.id}, between nodes" if metres > AT_A_NODE_M else None
