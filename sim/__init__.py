"""Simulation around the fleet manager: scenarios, customs-authority simulators, fault injection and
the Gazebo export. It drives :mod:`fleet` through the same interfaces a real deployment uses."""
