"""ament_python package; also installs into a plain venv with ``pip install -e ros_ws/src/agv_agent``."""

from setuptools import find_packages, setup

setup(
    name="agv_agent",
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/agv_agent"]),
        ("share/agv_agent", ["package.xml"]),
        ("share/agv_agent/config", ["config/agv.yaml"]),
    ],
    install_requires=["setuptools"],
    entry_points={
        "console_scripts": [
            "agv_agent = agv_agent.agent_node:main",
            "sim_base = agv_agent.sim_base_node:main",
            "agv_vehicle = agv_agent.vehicle_process:main",
        ],
    },
)
