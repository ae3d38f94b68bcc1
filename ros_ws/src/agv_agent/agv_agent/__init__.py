"""The xborder vehicle agent.

``protocol`` (plain dataclasses of the vehicle protocol), ``logic`` (the agent's decisions) and
``tracker`` (path following) import no ROS: the fast simulator runs them directly. ``convert`` maps
them to and from ``agv_interfaces`` messages; ``agent_node``, ``sim_base_node`` and ``vehicle_process``
are the thin rclpy wrappers.
"""
