"""Starting simulated vehicles as separate ROS 2 processes (agent + simulated base each), and
``xborder agents``: the launcher for the pip-only install, where ``ros2 launch`` is not available."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import typer

from sim.processes import spawn, stop_all

if TYPE_CHECKING:
    from planner.corridor import Corridor

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class VehicleSpec:
    vehicle_id: str
    x: float
    y: float
    theta: float = 0.0
    node_id: str = ""


def vehicle_command(spec: VehicleSpec, fleet_namespace: str = "xborder", params_file: Path | None = None,
                    extra: dict[str, object] | None = None) -> list[str]:
    """The command line of one ``agv_vehicle`` process (agent + sim_base) for ``spec``."""
    from agv_agent import default_params_file

    params = {"vehicle_id": spec.vehicle_id, "fleet_namespace": fleet_namespace, "initial_node_id": spec.node_id,
              "x": float(spec.x), "y": float(spec.y), "theta": float(spec.theta), **(extra or {})}
    command = [str(BIN / "agv_vehicle"), "--ros-args", "-r", f"__ns:=/{fleet_namespace}/{spec.vehicle_id}",
               "--params-file", str(params_file or default_params_file())]
    for name, value in params.items():
        command += ["-p", f"{name}:={value!r}" if isinstance(value, str) else f"{name}:={value}"]
    return command


def spawn_vehicle(spec: VehicleSpec, log: IO[bytes] | None = None, **kwargs) -> subprocess.Popen:
    """Start one vehicle process (a process group of its own, tied to this process: :mod:`sim.processes`); its
    log (stderr) goes to ``log`` or where this process's goes, so errors are seen and an unread pipe can never
    fill up and block the vehicle."""
    return spawn(vehicle_command(spec, **kwargs), stdout=subprocess.DEVNULL, stderr=log)


def mqtt_vehicle_command(spec: VehicleSpec, port: int, host: str = "127.0.0.1",
                         manufacturer: str = "xborder") -> list[str]:
    """The command line of one simulated VDA 5050 vehicle that speaks MQTT (agv_agent.mqtt_vehicle)."""
    return [sys.executable, "-m", "agv_agent.mqtt_vehicle", "--serial", spec.vehicle_id, "--host", host,
            "--port", str(port), "--manufacturer", manufacturer, "--x", repr(float(spec.x)), "--y", repr(float(spec.y)),
            "--theta", repr(float(spec.theta)), "--node", spec.node_id]


def spawn_mqtt_vehicle(spec: VehicleSpec, port: int, **kwargs) -> subprocess.Popen:
    return spawn(mqtt_vehicle_command(spec, port, **kwargs), stdout=subprocess.DEVNULL)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def parking_spots(corridor: Corridor, count: int) -> list[VehicleSpec]:
    """One vehicle per parking spot (first side first), named agv_001..., facing along its slot: the fleet
    manager's default registry (:func:`fleet.vehicles.placement.parked_fleet`) places them the same way."""
    from fleet.vehicles.placement import parking_nodes, vehicle_id

    return [VehicleSpec(vehicle_id(i), n.x, n.y, corridor.heading_into(n.id), n.id)
            for i, n in enumerate(parking_nodes(corridor, count))]


def agents(
    count: int = typer.Option(1, "--count", min=1, help="how many simulated vehicles"),
    map_folder: Path | None = typer.Option(None, "--map", help="corridor folder: vehicles start at its parking "
                                                                "spots (default: $XBORDER_MAP or the shipped map)"),
    fleet_namespace: str = typer.Option("xborder", "--fleet", help="topics under /<fleet>/<vehicle_id>/"),
    params_file: Path | None = typer.Option(None, "--params", help="AGV parameter file (default: agv.yaml)"),
    mqtt: bool = typer.Option(False, "--mqtt", help="VDA 5050 JSON over MQTT instead of ROS 2 (starts mosquitto "
                                                    "unless --mqtt-port names a running broker)"),
    mqtt_port: int | None = typer.Option(None, "--mqtt-port", help="a broker already listening on 127.0.0.1"),
    time_scale: float | None = typer.Option(None, "--time-scale", min=0.01,
                                            help="simulated seconds per wall second: publish /clock here and run the "
                                                 "vehicles on it (a simulation; a fleet manager elsewhere gets the "
                                                 "same pace in its config: sim.live.Pace)"),
) -> None:
    """Start N simulated AGVs (agent + simulated base, one process each) until Ctrl-C. One that ends is said; the
    others go on. The exit code is 1 when any ended by itself."""
    import time

    from fleet.maps import default_map_folder, load_corridor
    from planner.corridor import MapError

    if time_scale is not None and mqtt:  # before the map is read (seconds of CPU): the options alone decide
        raise typer.BadParameter("--time-scale runs ROS 2 vehicles on a /clock; the MQTT vehicles keep wall time")
    try:
        specs = parking_spots(load_corridor(map_folder or default_map_folder()), count)
    except (MapError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    signal.signal(signal.SIGTERM, _interrupt)  # stopped by a service manager: still stop the vehicles
    broker, clock, extra = None, None, None
    if time_scale is not None:
        from sim.live import Pace
        from sim.sim_clock import SimClock

        clock, extra = SimClock(time_scale), Pace(time_scale).vehicle_params()
    if mqtt:
        from sim.mqtt_broker import Broker, BrokerError

        if mqtt_port is None:
            try:
                broker = Broker().start()
            except BrokerError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(2) from None
            port = broker.port
        else:
            port = mqtt_port
        processes = [spawn_mqtt_vehicle(s, port) for s in specs]
        typer.echo(f"started {len(processes)} VDA 5050 vehicles on MQTT 127.0.0.1:{port} (uagv/v2/xborder/...): "
                   + ", ".join(f"{s.vehicle_id}@{s.node_id}" for s in specs))
    else:
        processes = [spawn_vehicle(s, fleet_namespace=fleet_namespace, params_file=params_file, extra=extra)
                     for s in specs]
        typer.echo(f"started {len(processes)} vehicles under /{fleet_namespace}/: "
                   + ", ".join(f"{s.vehicle_id}@{s.node_id}" for s in specs))
    running = dict(zip((s.vehicle_id for s in specs), processes, strict=True))
    try:
        # one vehicle's process that ends (a crash, a kill to see the fleet manager take it out) is that vehicle
        # gone, as a real one whose computer died: the others drive on (all of them stopped with it once)
        while running:
            for vehicle_id, how in take_ended(running):
                typer.echo(f"{vehicle_id} ended ({how}); {len(running)} vehicle(s) go on", err=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(processes, signal.SIGINT)
        if broker is not None:
            broker.stop()
        if clock is not None:
            clock.close()
    if len(running) < len(processes):
        raise typer.Exit(1)


def take_ended(running: dict[str, subprocess.Popen]) -> list[tuple[str, str]]:
    """The vehicles whose processes have ended, taken out of ``running``, each with how it ended."""
    ended = [(vehicle_id, process) for vehicle_id, process in running.items() if process.poll() is not None]
    for vehicle_id, _ in ended:
        del running[vehicle_id]
    return [(vehicle_id, how_it_ended(process.returncode)) for vehicle_id, process in ended]


def how_it_ended(returncode: int) -> str:
    """A process's exit code as a person says it: "exit code 1", "killed by SIGKILL"."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"
