"""What the API reads of the fleet: the tracks as the last tick left them, and their views, each built once.

The loop publishes a new snapshot after every tick. Views (and their JSON) are built on the first read of a
snapshot and shared by every read after it until the next tick, so that 50 consoles polling ``GET /vehicles``
cost one build per tick, not one per request, and no request waits for the loop's lock
(docs/operations.md, "Measured load").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import TypeAdapter

from fleet.dispatch.steps import vehicle_view
from fleet.dispatch.tracks import Track
from fleet.dispatch.views import GateView, VehicleView

VEHICLES = TypeAdapter(list[VehicleView])
GATES = TypeAdapter(list[GateView])
_T = TypeVar("_T")


class JsonView(StrEnum):
    """The views the read routes answer with as JSON."""

    VEHICLES = "vehicles.json"
    VEHICLE = "vehicle.json"  # one vehicle's, with its id
    GATES = "gates.json"


class Snapshot:
    """Copies of the tracks at one moment; ``gates`` builds the gate views from them (it asks the gate rule)."""

    def __init__(self, tracks: Mapping[str, Track], gates: Callable[[Mapping[str, Track]], list[GateView]]) -> None:
        self.tracks = tracks
        self._gates = gates
        self._lock = threading.RLock()  # a view's JSON is built from the view, itself built once
        self._built: dict[Hashable, Any] = {}

    def _once(self, key: Hashable, build: Callable[[], _T]) -> _T:
        with self._lock:  # the first reader builds, the others wait for it and share what it built
            if key not in self._built:
                self._built[key] = build()
            return self._built[key]

    def vehicles(self) -> list[VehicleView]:
        return self._once("vehicles", lambda: [vehicle_view(track) for track in self.tracks.values()])

    def vehicle(self, vehicle_id: str) -> VehicleView:
        """KeyError if there is no such vehicle."""
        track = self.tracks[vehicle_id]
        return self._once(("vehicle", vehicle_id), lambda: vehicle_view(track))

    def gates(self) -> list[GateView]:
        return self._once("gates", lambda: self._gates(self.tracks))

    def vehicles_json(self) -> bytes:
        return self._once(JsonView.VEHICLES, lambda: VEHICLES.dump_json(self.vehicles()))

    def vehicle_json(self, vehicle_id: str) -> bytes:
        return self._once((JsonView.VEHICLE, vehicle_id), lambda: self.vehicle(vehicle_id).model_dump_json().encode())

    def gates_json(self) -> bytes:
        return self._once(JsonView.GATES, lambda: GATES.dump_json(self.gates()))

    def built_json(self, view: JsonView, vehicle_id: str | None = None) -> bytes | None:
        """The view's JSON if a reader built it already, else None: no waiting (a dict's get needs no lock)."""
        return self._built.get(view if vehicle_id is None else (view, vehicle_id))
