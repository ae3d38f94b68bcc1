"""Gazebo (Harmonic) export for engineers: an SDF world generated from any corridor map, the container
AGV model, and the ros_gz_bridge configuration that connects Gazebo vehicles to the agv_agent nodes."""
