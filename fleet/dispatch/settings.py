"""The dispatch loop's settings: ``fleet.dispatch`` in the config file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DispatchSettings(BaseModel):
    """The dispatch loop's timings and thresholds (``fleet.dispatch`` in the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tick_hz: float = Field(2.0, gt=0, le=50)
    replans_per_tick: int = Field(16, ge=1, description="vehicles planned again in one tick at most (those "
                                                         "waiting longest first); the rest wait for the next tick")
    load_s: float = Field(60.0, ge=0, description="planned at the pickup dock (the order is loaded when the "
                                                   "vehicle reports its pick FINISHED)")
    unload_s: float = Field(60.0, ge=0, description="planned at the drop dock (delivered when the vehicle reports "
                                                     "its drop FINISHED)")
    container_mass_kg: float = Field(20000.0, gt=0, description="the mass counted per container against a "
                                                                "vehicle's payload (its factsheet's maxLoadMass): "
                                                                "orders declare none")
    silent_after_s: float = Field(10.0, gt=0, description="no state for this long: treated as offline")
    reassign_after_s: float = Field(60.0, ge=0, description="a vehicle that stops for a while (an emergency "
                                                            "stop, its link lost or silent) keeps an order it has "
                                                            "not loaded yet for this long, then the order goes to "
                                                            "another vehicle; at once on a fatal fault or when "
                                                            "taken out of service. Also how long a vehicle may "
                                                            "take none of the orders sent to it (at least 9 s) "
                                                            "before it is out of dispatch as one that does not "
                                                            "take its orders")
    late_after_s: float = Field(5.0, gt=0, description="later arrivals are absorbed with FleetPlanner.delay")
    stuck_after_s: float = Field(300.0, gt=0, description="this late reaching a node of its plan: an alarm "
                                                          "(vehicle_stuck)")
    still_after_s: float = Field(120.0, gt=0, description="a vehicle with way released ahead of it (it reports it) "
                                                          "that has not moved for this long (neither reached a "
                                                          "node nor gone 1 m) while nothing keeps it (no load to "
                                                          "pick or drop nor charging where it stands, not paused, "
                                                          "not unavailable): an alarm (vehicle_stuck), marked "
                                                          "cleared once it moves. One waiting for its release is "
                                                          "not counted. Above the longest drive between two nodes "
                                                          "(110 m at 5 km/h: 81 s), as a vehicle that reports its "
                                                          "position only at its nodes (the fast simulator's) is "
                                                          "seen standing meanwhile")
    low_battery_percent: float = Field(30.0, ge=0, le=100)
    reserve_battery_percent: float = Field(20.0, ge=0, le=100)
    battery_percent_per_km: float = Field(0.8, gt=0)
    assign_time_limit_s: float = Field(0.05, gt=0)
    assign_work_limit: float | None = Field(None, gt=0, description="CP-SAT's deterministic time limit for an "
                                                                    "assignment (about seconds of work) in place "
                                                                    "of assign_time_limit_s: the same answer "
                                                                    "however busy the machine (the simulator's "
                                                                    "fast mode)")
    assign_max_orders: int = Field(16, ge=1, description="the most urgent waiting orders one assignment considers "
                                                         "(its work grows with the square of their number)")
    loads_per_gate_lane: int = Field(3, ge=1, description="through operation: the orders a side may have given "
                                                          "out and not yet past its outbound gates (on their way "
                                                          "to load, loaded, waiting for a gate lane or a "
                                                          "clearance), per outbound gate lane; the rest wait for "
                                                          "a vehicle, so that loaded vehicles do not fill the "
                                                          "docks and bays the arrivals need")
    assign_max_vehicles: int = Field(12, ge=1, description="the free vehicles one assignment considers: those "
                                                           "nearest to a waiting order's pickup")
