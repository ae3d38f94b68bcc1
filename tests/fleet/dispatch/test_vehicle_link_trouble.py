"""The fleet's vehicle link in trouble (its MQTT broker lost or refusing the fleet's login, the ROS 2 bridge
stopped) is one alarm that says what, after a grace a restarting broker comes back within. Before, it showed only
as each vehicle on it falling silent, one alarm each, none naming the cause. The links' own words are tested on a
real broker: tests/mqtt/test_mqtt_access.py."""

from __future__ import annotations

from fleet.alarms import AlarmKind
from fleet.dispatch.loop import VEHICLE_LINK_GRACE_S
from tests.fleet.dispatch.conftest import make_fleet

REFUSED = "the MQTT broker 127.0.0.1:1883 refused the fleet's connection: Not authorized"


def _link_alarms(fleet):
    return [a for a in fleet.dispatcher.alarms.list(limit=500)[0] if a.kind == AlarmKind.VEHICLE_LINK_TROUBLE]


def test_a_link_in_trouble_past_its_grace_is_one_alarm_naming_the_trouble(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.run(5)
    trouble: list[str] = []
    fleet.link.trouble = lambda: trouble[0] if trouble else None  # the link's edge: what it says of itself
    trouble.append(REFUSED)
    fleet.run(VEHICLE_LINK_GRACE_S - 2)
    assert _link_alarms(fleet) == []  # a broker restarting is back within the grace
    fleet.run(4)
    fleet.run(30)  # still in trouble: still one alarm
    [alarm] = _link_alarms(fleet)
    assert REFUSED in alarm.message and alarm.detail["trouble"] == REFUSED, alarm
    trouble.clear()
    fleet.run(5)
    fleet.dispatcher.alarms.acknowledge(alarm.id, "operator")
    trouble.append("lost the MQTT broker 127.0.0.1:1883 (Unspecified error): connecting again")
    fleet.run(VEHICLE_LINK_GRACE_S / 2)
    trouble.clear()  # back within the grace: nothing to tell
    fleet.run(VEHICLE_LINK_GRACE_S * 2)
    assert len(_link_alarms(fleet)) == 1
