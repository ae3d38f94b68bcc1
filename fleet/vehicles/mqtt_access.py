"""Who may say what on the VDA 5050 broker: the access list for mosquitto (``acl_file``).

With anonymous clients any program on the vehicle network could report a vehicle's state for it (placing it at
its gate, or across the border) or send any vehicle an order that releases the crossing. With this list and a
password per client, the fleet manager reads every vehicle's reports and commands every vehicle, and each
vehicle, logged in with its serial number as user name, reports for itself and hears its own commands only.
``xborder mqtt acl`` prints it; docs/vehicle-protocol.md says how to set up the broker.
"""

from __future__ import annotations

from agv_agent.protocol import INTERFACE_NAME, VDA_MAJOR

#: the fleet manager's user name on the broker, unless configured otherwise (``fleet.mqtt.username``)
FLEET_USER = "xborder-fleet"
#: what a vehicle publishes (its reports) and what it hears (its commands), VDA 5050 2.1 §6
VEHICLE_REPORTS = ("state", "connection", "factsheet", "visualization")
VEHICLE_COMMANDS = ("order", "instantActions")
FLEET_READS = ("state", "connection", "factsheet")


def mosquitto_acl(fleet_user: str = FLEET_USER, interface: str = INTERFACE_NAME) -> str:
    """The access list: ``uagv/v2/<manufacturer>/<serialNumber>/<topic>``; a vehicle's user name is its serial
    number (mosquitto's ``%u``)."""
    every = f"{interface}/{VDA_MAJOR}/+/+"
    own = f"{interface}/{VDA_MAJOR}/+/%u"
    lines = ["# xborder: the VDA 5050 broker's access list (mosquitto acl_file; xborder mqtt acl)",
             "# the fleet manager reads every vehicle's reports and commands every vehicle",
             f"user {fleet_user}",
             *(f"topic read {every}/{name}" for name in FLEET_READS),
             *(f"topic write {every}/{name}" for name in VEHICLE_COMMANDS),
             "",
             "# each vehicle (user name = its serial number) reports for itself and hears its own commands",
             *(f"pattern write {own}/{name}" for name in VEHICLE_REPORTS),
             *(f"pattern read {own}/{name}" for name in VEHICLE_COMMANDS)]
    return "\n".join(lines) + "\n"
