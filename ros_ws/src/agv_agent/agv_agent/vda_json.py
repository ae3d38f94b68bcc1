"""VDA 5050 2.1 JSON (what goes over MQTT) to and from the plain protocol types: the one place that knows it.

Timestamps are ISO 8601 UTC (``2026-11-30T08:10:00.000Z``); node positions are in the corridor's metric frame.
Fields the protocol types do not carry get VDA 5050's neutral values (``zoneSetId`` "", ``maps`` []).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from agv_agent.protocol import (
    INTERFACE_NAME,
    VDA_MAJOR,
    Action,
    ActionParameter,
    ActionState,
    ActionStatus,
    AgvError,
    BlockingType,
    ConnectionState,
    ErrorLevel,
    ErrorReference,
    EStop,
    Factsheet,
    Header,
    Information,
    Load,
    OperatingMode,
    Order,
    OrderEdge,
    OrderNode,
    Pose,
    VehicleState,
)

Json = dict[str, Any]


class VdaJsonError(ValueError):
    """A VDA 5050 message that cannot be read (missing or mistyped field)."""


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def header_json(header: Header, header_id: int, manufacturer: str, serial: str, stamp: float) -> Json:
    return {"headerId": header_id, "timestamp": timestamp(stamp), "version": header.version,
            "manufacturer": manufacturer, "serialNumber": serial}


def _header(msg: Json) -> Header:
    return Header(int(msg["headerId"]), seconds(msg["timestamp"]), msg["version"], msg["manufacturer"],
                  msg["serialNumber"])


def _action_json(action: Action) -> Json:
    out: Json = {"actionType": str(action.action_type), "actionId": action.action_id,
                 "blockingType": str(action.blocking_type),
                 "actionParameters": [{"key": p.key, "value": p.value} for p in action.parameters]}
    if action.description:
        out["actionDescription"] = action.description
    return out


def _action(msg: Json) -> Action:
    return Action(msg["actionId"], msg["actionType"], BlockingType(msg.get("blockingType", "HARD")),
                  tuple(ActionParameter(p["key"], p["value"]) for p in msg.get("actionParameters", ())),
                  msg.get("actionDescription", ""))


def _node_position(node: OrderNode) -> Json:
    position: Json = {"x": node.x, "y": node.y, "mapId": node.map_id, "allowedDeviationXY": node.allowed_deviation_xy}
    if node.theta is not None:
        position |= {"theta": node.theta, "allowedDeviationTheta": node.allowed_deviation_theta}
    return position


def _node(msg: Json, released_default: bool = True) -> OrderNode:
    p = msg.get("nodePosition") or {}
    return OrderNode(msg["nodeId"], int(msg["sequenceId"]), bool(msg.get("released", released_default)),
                     float(p.get("x", math.nan)), float(p.get("y", math.nan)), p.get("theta"),
                     float(p.get("allowedDeviationXY", 0.5)), float(p.get("allowedDeviationTheta", 0.0)),
                     tuple(_action(a) for a in msg.get("actions", ())), p.get("mapId", ""))


def order_json(order: Order, header_id: int, manufacturer: str, serial: str, stamp: float) -> Json:
    edges = []
    for e in order.edges:
        edge: Json = {"edgeId": e.edge_id, "sequenceId": e.sequence_id, "released": e.released,
                      "startNodeId": e.start_node_id, "endNodeId": e.end_node_id, "rotationAllowed": e.rotation_allowed,
                      "actions": [_action_json(a) for a in e.actions]}
        if e.max_speed > 0:
            edge["maxSpeed"] = e.max_speed
        if e.length > 0:
            edge["length"] = e.length
        edges.append(edge)
    return header_json(order.header, header_id, manufacturer, serial, stamp) | {
        "orderId": order.order_id, "orderUpdateId": order.order_update_id,
        "nodes": [{"nodeId": n.node_id, "sequenceId": n.sequence_id, "released": n.released,
                   "nodePosition": _node_position(n), "actions": [_action_json(a) for a in n.actions]}
                  for n in order.nodes],
        "edges": edges}


def order_from_json(msg: Json) -> Order:
    try:
        return Order(msg["orderId"], int(msg["orderUpdateId"]), tuple(_node(n) for n in msg["nodes"]),
                     tuple(OrderEdge(e["edgeId"], int(e["sequenceId"]), bool(e["released"]), e["startNodeId"],
                                     e["endNodeId"], float(e.get("maxSpeed", 0.0)), float(e.get("length", 0.0)),
                                     bool(e.get("rotationAllowed", True)),
                                     tuple(_action(a) for a in e.get("actions", ())))
                           for e in msg["edges"]),
                     _header(msg))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VdaJsonError(f"order: {exc!r}") from None


def instant_actions_json(actions: list[Action], header_id: int, manufacturer: str, serial: str,
                         stamp: float) -> Json:
    return header_json(Header(), header_id, manufacturer, serial, stamp) | {
        "actions": [_action_json(a) for a in actions]}


def instant_actions_from_json(msg: Json) -> list[Action]:
    try:
        return [_action(a) for a in msg["actions"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VdaJsonError(f"instantActions: {exc!r}") from None


def state_json(state: VehicleState, header_id: int) -> Json:
    h = state.header
    return header_json(h, header_id, h.manufacturer, state.vehicle_id, state.stamp) | {
        "maps": [], "orderId": state.order_id, "orderUpdateId": state.order_update_id,
        "lastNodeId": state.last_node_id, "lastNodeSequenceId": state.last_node_sequence_id,
        "driving": state.driving, "paused": state.paused, "newBaseRequest": state.new_base_request,
        "distanceSinceLastNode": state.distance_since_last_node, "operatingMode": str(state.operating_mode),
        "nodeStates": [{"nodeId": n.node_id, "sequenceId": n.sequence_id, "released": n.released,
                        "nodePosition": {"x": n.x, "y": n.y, "mapId": n.map_id}} for n in state.node_states],
        "edgeStates": [{"edgeId": e.edge_id, "sequenceId": e.sequence_id, "released": e.released}
                       for e in state.edge_states],
        "agvPosition": {"x": state.pose.x, "y": state.pose.y, "theta": state.pose.theta, "mapId": state.map_id,
                        "positionInitialized": state.position_initialized},
        "velocity": {"vx": state.velocity[0], "vy": 0.0, "omega": state.velocity[1]},
        "loads": [{"loadId": load.load_id, "loadType": load.load_type} | (
            {"loadPosition": load.load_position} if load.load_position else {}) for load in state.loads],
        "actionStates": [{"actionId": a.action_id, "actionType": a.action_type, "actionStatus": str(a.status),
                          "resultDescription": a.result} for a in state.action_states],
        "batteryState": {"batteryCharge": state.battery_charge, "charging": state.charging,
                         "reach": max(0, round(state.battery_reach))},
        "errors": [{"errorType": e.error_type, "errorLevel": str(e.level), "errorDescription": e.description,
                    "errorReferences": [{"referenceKey": r.key, "referenceValue": r.value} for r in e.references]}
                   for e in state.errors],
        "information": [{"infoType": i.info_type, "infoLevel": i.level, "infoDescription": i.description}
                        for i in state.information],
        "safetyState": {"eStop": str(state.e_stop), "fieldViolation": state.field_violation}}


def state_from_json(msg: Json) -> VehicleState:
    try:
        position = msg.get("agvPosition") or {}
        velocity = msg.get("velocity") or {}
        battery = msg["batteryState"]
        return VehicleState(
            vehicle_id=msg["serialNumber"], order_id=msg["orderId"], order_update_id=int(msg["orderUpdateId"]),
            last_node_id=msg["lastNodeId"], last_node_sequence_id=int(msg["lastNodeSequenceId"]),
            node_states=tuple(_node(n) for n in msg["nodeStates"]),
            edge_states=tuple(OrderEdge(e["edgeId"], int(e["sequenceId"]), bool(e["released"]), "", "")
                              for e in msg["edgeStates"]),
            pose=Pose(float(position.get("x", 0.0)), float(position.get("y", 0.0)), float(position.get("theta", 0.0))),
            velocity=(float(velocity.get("vx", 0.0)), float(velocity.get("omega", 0.0))),
            driving=bool(msg["driving"]), paused=bool(msg.get("paused", False)),
            link_lost=any(i.get("infoType") == "LINK_LOST" for i in msg.get("information", ())),
            battery_charge=float(battery["batteryCharge"]), charging=bool(battery["charging"]),
            loads=tuple(Load(load.get("loadId", ""), load.get("loadType", ""), load.get("loadPosition", ""))
                        for load in msg.get("loads", ())),
            action_states=tuple(ActionState(a["actionId"], a.get("actionType", ""), ActionStatus(a["actionStatus"]),
                                            a.get("resultDescription", "")) for a in msg["actionStates"]),
            errors=tuple(AgvError(e["errorType"], ErrorLevel(e["errorLevel"]), e.get("errorDescription", ""),
                                  tuple(ErrorReference(r["referenceKey"], str(r["referenceValue"]))
                                        for r in e.get("errorReferences", ())))
                         for e in msg["errors"]),
            e_stop=EStop(msg["safetyState"]["eStop"]), stamp=seconds(msg["timestamp"]),
            operating_mode=OperatingMode(msg["operatingMode"]),
            position_initialized=bool(position.get("positionInitialized", False)), map_id=position.get("mapId", ""),
            new_base_request=bool(msg.get("newBaseRequest", False)),
            distance_since_last_node=float(msg.get("distanceSinceLastNode", 0.0)),
            battery_reach=float(battery.get("reach", 0.0)),
            field_violation=bool(msg["safetyState"].get("fieldViolation", False)),
            information=tuple(Information(i["infoType"], i["infoLevel"], i.get("infoDescription", ""))
                              for i in msg.get("information", ())),
            header=_header(msg))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VdaJsonError(f"state: {exc!r}") from None


def connection_json(state: ConnectionState, header_id: int, manufacturer: str, serial: str, stamp: float) -> Json:
    return header_json(Header(), header_id, manufacturer, serial, stamp) | {"connectionState": str(state)}


def connection_from_json(msg: Json) -> ConnectionState:
    try:
        return ConnectionState(msg["connectionState"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VdaJsonError(f"connection: {exc!r}") from None


def factsheet_json(f: Factsheet, header_id: int, stamp: float) -> Json:
    return header_json(f.header, header_id, f.manufacturer, f.serial_number, stamp) | {
        "typeSpecification": {"seriesName": f.series_name, "agvKinematic": "DIFF", "agvClass": "CARRIER",
                              "maxLoadMass": f.max_load_mass, "localizationTypes": ["NATURAL"],
                              "navigationTypes": ["VIRTUAL_LINE_GUIDED"]},
        "physicalParameters": {"speedMin": 0.0, "speedMax": f.speed_max, "accelerationMax": f.acceleration_max,
                               "decelerationMax": f.deceleration_max, "heightMax": f.height_max, "width": f.width,
                               "length": f.length},
        "protocolLimits": {"maxStringLens": {}, "maxArrayLens": {},
                           "timing": {"minOrderInterval": 0.5, "minStateInterval": 0.5}},
        "protocolFeatures": {"optionalParameters": [],
                             "agvActions": [{"actionType": a, "actionScopes": ["INSTANT", "NODE"]}
                                            for a in f.actions]},
        "agvGeometry": {}, "loadSpecification": {}}


def factsheet_from_json(msg: Json) -> Factsheet:
    try:
        physical, kind = msg["physicalParameters"], msg["typeSpecification"]
        return Factsheet(msg["serialNumber"], msg["manufacturer"], kind["seriesName"], float(physical["speedMax"]),
                         float(physical["accelerationMax"]), float(physical["decelerationMax"]),
                         float(physical["length"]), float(physical["width"]), float(physical["heightMax"]),
                         float(kind["maxLoadMass"]),
                         tuple(a["actionType"] for a in msg["protocolFeatures"]["agvActions"]), _header(msg))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VdaJsonError(f"factsheet: {exc!r}") from None


#: MQTT QoS and retained flag per VDA 5050 topic (VDA 5050 2.1, §6.1.1 and the topic tables).
MQTT_TOPICS: dict[str, tuple[int, bool]] = {
    "order": (0, False), "instantActions": (0, False), "state": (0, False), "visualization": (0, False),
    "connection": (1, True), "factsheet": (0, True),
}


def mqtt_topic(manufacturer: str, serial: str, name: str, interface: str = INTERFACE_NAME,
               major: str = VDA_MAJOR) -> str:
    """``<interfaceName>/<majorVersion>/<manufacturer>/<serialNumber>/<topic>``."""
    if name not in MQTT_TOPICS:
        raise ValueError(f"no VDA 5050 topic {name!r}")
    return f"{interface}/{major}/{manufacturer}/{serial}/{name}"
