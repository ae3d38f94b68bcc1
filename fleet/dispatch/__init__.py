"""The dispatch loop: assign waiting orders, plan conflict-free timed routes, release to each vehicle only what
is reserved for it and never past the border before the customs gate allows it, follow progress.

Pure steps (``steps``, ``vda``, ``relay``; the release rule in ``planner.schedule.release``) beside a thin loop
(``loop.Dispatcher``), like ``agv_agent.logic`` and its node.
"""

from fleet.dispatch.loop import Dispatcher
from fleet.dispatch.settings import DispatchSettings
from fleet.dispatch.views import GateView, VehicleAction, VehicleView, WaitingVehicle

__all__ = ["DispatchSettings", "Dispatcher", "GateView", "VehicleAction", "VehicleView", "WaitingVehicle"]
