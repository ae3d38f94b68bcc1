"""Vehicles on hosts of their own: the AGV (``xborder agents``, its agent and simulated base, and the simulation's
``/clock``) in a network namespace of its own, joined to the fleet manager's namespace by a veth pair only;
DDS discovery across by static initial peers in a Fast DDS XML profile (no multicast, UDP on the site link and
loopback only). An order goes in over HTTP and is delivered across the border."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from sim.service_process import BIN
from sim.site_network import HostNetwork, HostNetworkUnavailable, dds_profile
from tests.e2e.conftest import MAP, PACE, curve_keys, docks, public_keys

#: about 4 min (one trip across): in `make test`'s real-time stream, not the long one
pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def site():
    """One vehicle host (a namespace and a veth pair), removed after the test whatever happens."""
    try:
        network = HostNetwork(f"xb{os.getpid() % 100000}").__enter__()
    except HostNetworkUnavailable as exc:
        pytest.skip(f"vehicles on their own hosts need network namespaces here: {exc}")
    try:
        yield network
    finally:
        network.remove()


def counters(interface: str) -> int:
    return sum(int(Path(f"/sys/class/net/{interface}/statistics/{name}").read_text()) for name in ("rx_packets",
                                                                                                   "tx_packets"))


def test_an_order_is_delivered_by_a_vehicle_on_a_host_of_its_own(site, keys, tmp_path):
    from fleet.customs.signing import EventSigner, load_private_key
    from fleet.maps import load_corridor
    from sim.live import fleet_registry
    from sim.processes import spawn, stop
    from sim.ros_fleet import parking_spots
    from sim.service_process import ServiceProcess

    host = site.hosts[0]
    fleet_link = f"{site.prefix}f0"
    domain = {"ROS_DOMAIN_ID": os.environ["ROS_DOMAIN_ID"]}
    fleet_env = {**os.environ, **domain, **dds_profile(tmp_path / "fleet.xml", [host.fleet_address], [host.address])}
    host_env = {**os.environ, **domain, **dds_profile(tmp_path / "agv.xml", [host.address], [host.fleet_address])}
    corridor = load_corridor(MAP)
    specs = parking_spots(corridor, 1)  # where `xborder agents` puts its vehicles
    service = ServiceProcess(tmp_path, public_keys(keys), link_timeout_s=3600.0, map_folder=MAP,
                             fleet={**PACE.fleet_settings(), "vehicles": fleet_registry(corridor, specs)},
                             curve_public_keys=curve_keys(keys))
    service.env = fleet_env
    before = counters(fleet_link)
    with (tmp_path / "agents.log").open("wb") as agents_log, (tmp_path / "serve.log").open("wb") as serve_log:
        agents = spawn(HostNetwork.command(host, [str(BIN / "xborder"), "agents", "--count", "1", "--map", str(MAP),
                                                  "--time-scale", str(PACE.scale)]),
                       env=host_env, stdout=agents_log, stderr=subprocess.STDOUT)
        try:
            service.start(log=serve_log)
            vehicle = specs[0].vehicle_id

            def online() -> bool:
                state = service.get(f"/vehicles/{vehicle}")
                return state["connection"] == "ONLINE" and bool(state["last_node"])

            wait(online, 120, f"{vehicle} never reported across the link; see {tmp_path}/agents.log")
            home = corridor.nodes[specs[0].node_id].jurisdiction
            there = next(side for side in corridor.jurisdictions if side != home)
            consignment = f"{home}-990000000001"
            links = {name: service.authority_link(keys, name) for name in ("VN_CUSTOMS", "CN_CUSTOMS")}
            for name, link in links.items():
                signer = EventSigner(name, load_private_key(keys / f"{name}.key"))
                for kind, fields in (("vehicle.authorized", {"vehicle_id": vehicle}),
                                     ("released", {"consignment_id": consignment, "direction": f"{home}->{there}"})):
                    assert link.send(signer.event(kind, **fields))["status"] == "ACK"
                link.close()
            reply = httpx.post(f"{service.base}/orders", headers=service.headers("dispatcher"), timeout=10,
                               json={"consignments": [consignment], "pickup": docks(home)[0], "drop": docks(there)[0]})
            assert reply.status_code == 201, reply.text
            started = time.monotonic()
            order = reply.json()["id"]
            wait(lambda: service.get(f"/orders/{order}")["state"] == "delivered", 600,
                 f"not delivered across the link: {service.get(f'/orders/{order}')}")
            took = time.monotonic() - started
            states = [t["to_state"] for t in service.get(f"/orders/{order}")["timeline"]]
        finally:
            stop(agents, grace_s=10)
            service.stop()
    assert states.count("crossing") == 1 and states[-1] == "delivered", states
    crossed = counters(fleet_link) - before
    assert crossed > 100, crossed  # DDS really went over the veth pair (discovery, orders, states, the clock's none)
    print(f"\nvehicle on its own host: ONLINE across the veth pair, order delivered {took:.0f} s after it was "
          f"created; {crossed} packets over the link")


def wait(predicate, timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except httpx.TransportError:
            pass
        time.sleep(1.0)
    raise AssertionError(message)
