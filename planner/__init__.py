"""Pure algorithms over a corridor graph: map model and validation, routing, conflict-free schedules,
handoff timing and order assignment. No I/O, no ROS, no HTTP (docs/architecture.md)."""
