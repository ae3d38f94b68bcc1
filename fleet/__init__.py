"""The xborder fleet manager: the long-running service that owns orders, clearance and dispatch.

It talks to the world only at its edges (FastAPI, ZeroMQ, rclpy) and uses :mod:`planner` for every
algorithm. See docs/architecture.md.
"""
