"""Conflict-free timed plans for many AGVs: reservations, Safe Interval Path Planning, prioritized fleet
planning with incremental replanning, relay handoff timing, and an independent plan checker."""

from planner.schedule.fleet import FleetPlan, FleetPlanner
from planner.schedule.plans import INF, FollowingRules, PlanRequest, Step, Stop, TimedPlan

__all__ = ["INF", "FleetPlan", "FleetPlanner", "FollowingRules", "PlanRequest", "Step", "Stop", "TimedPlan"]
