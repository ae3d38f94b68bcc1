"""Several vehicle links as one (``fleet.link: ros+mqtt``): ROS 2 vehicles and VDA 5050 MQTT vehicles in one fleet.
Each vehicle is served by the link it has been heard on; until it is heard, commands go to the first link. One id
heard on two links is two machines (a vendor's AGV given one of our ids, a client on the broker using it): its
snapshot says so, as a link's ``HeaderWatch`` does for two sources on one link, and instant actions (the emergency
stop that follows) go on every link it was heard on lately."""

from __future__ import annotations

from collections.abc import Sequence

from agv_agent.protocol import Action, Factsheet, Order, VehicleState

from fleet.vehicles.link import VehicleLink, VehicleSnapshot

#: seconds a state heard on a link other than the vehicle's own counts as a second machine's (``HeaderWatch``'s window)
OTHER_SOURCE_S = 30.0


class RoutedLink:
    """Implements :class:`fleet.vehicles.VehicleLink` over ``links``."""

    name = "routed"

    def __init__(self, links: Sequence[VehicleLink]) -> None:
        if not links:
            raise ValueError("a routed link needs at least one link")
        self.links = list(links)
        self._routes: dict[str, VehicleLink] = {}

    def link_of(self, vehicle_id: str) -> VehicleLink:
        """The link the vehicle was heard on (kept once found), else the first."""
        link = self._routes.get(vehicle_id)
        if link is not None:
            return link
        for candidate in self.links:
            if candidate.connection(vehicle_id) is not None or candidate.state_age(vehicle_id) is not None:
                self._routes[vehicle_id] = candidate
                return candidate
        return self.links[0]

    def add_vehicle(self, vehicle_id: str) -> None:
        for link in self.links:  # listen everywhere: where it speaks is not known yet
            link.add_vehicle(vehicle_id)

    def send_order(self, vehicle_id: str, order: Order) -> None:
        self.link_of(vehicle_id).send_order(vehicle_id, order)

    def send_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        """On the vehicle's link and on every other it was heard on lately (``OTHER_SOURCE_S``): each machine using
        the id takes them (the emergency stop for two machines under one id reached only the one on the link first
        heard)."""
        served = self.link_of(vehicle_id)
        for link in self.links:
            if link is served or self._heard_lately(link, vehicle_id):
                link.send_actions(vehicle_id, actions)

    @staticmethod
    def _heard_lately(link: VehicleLink, vehicle_id: str) -> bool:
        age = link.state_age(vehicle_id)
        return age is not None and age <= OTHER_SOURCE_S

    def heartbeat(self) -> None:
        for link in self.links:
            link.heartbeat()

    def state(self, vehicle_id: str) -> VehicleState | None:
        return self.link_of(vehicle_id).state(vehicle_id)

    def state_age(self, vehicle_id: str) -> float | None:
        return self.link_of(vehicle_id).state_age(vehicle_id)

    def connection(self, vehicle_id: str) -> str | None:
        return self.link_of(vehicle_id).connection(vehicle_id)

    def changed_vehicles(self) -> None:
        """Cannot tell: each snapshot carries the state's age (``VehicleLink.changed_vehicles``)."""
        return None

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        served = self.link_of(vehicle_id)
        seen = served.snapshot(vehicle_id)
        if seen.duplicate is None and seen.state is not None:
            also = self._also_heard(vehicle_id, served)
            if also is not None:
                return seen._replace(duplicate=also)
        return seen

    def _also_heard(self, vehicle_id: str, served: VehicleLink) -> str | None:
        """What shows that a second machine reports as ``vehicle_id`` on another link than ``served``, or None."""
        for link in self.links:
            if link is not served and self._heard_lately(link, vehicle_id):
                return (f"heard on the {served.name} link and, within {OTHER_SOURCE_S:.0f} s, on the {link.name} "
                        "link: one vehicle speaks on one link")
        return None

    def factsheet(self, vehicle_id: str) -> Factsheet | None:
        return self.link_of(vehicle_id).factsheet(vehicle_id)

    def trouble(self) -> str | None:
        return "; ".join(t for link in self.links if (t := link.trouble()) is not None) or None
