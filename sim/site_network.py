"""Vehicles on hosts of their own: network namespaces of this machine joined by veth pairs, and the DDS
configuration that lets ROS 2 discover across hosts without multicast leaving the site network.

* :class:`HostNetwork` makes one namespace per vehicle host, each joined to the fleet manager's host (this
  process's namespace) by a veth pair on a /30 of its own, and removes them all again, even after a failure.
  Running a command on a host is ``ip netns exec <name> ...`` (:meth:`HostNetwork.command`).
* :func:`dds_profile` writes the Fast DDS XML profile a host uses (``FASTDDS_DEFAULT_PROFILES_FILE`` with
  ``ROS_AUTOMATIC_DISCOVERY_RANGE=SYSTEM_DEFAULT``, so that ROS 2 takes the profile as it is): UDP only on the
  host's site addresses (never the machine's other networks), and the other hosts as static initial peers. A real
  site uses the same file with its own addresses (docs/deployment.md).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

#: per-namespace files that ``ip netns exec`` puts over /etc's
ETC_NETNS = Path("/etc/netns")
#: where the test hosts' addresses come from: a /30 per link, only ever on veth pairs this module made
SITE_SUBNET = ipaddress.ip_network("10.231.0.0/16")


class HostNetworkUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, no ``ip``, or no CAP_NET_ADMIN)."""


@dataclass(frozen=True)
class Host:
    """A vehicle host: its namespace, its address, and the fleet manager's address on the same link."""

    name: str
    address: str
    fleet_address: str


def _ip(*args: str, namespace: str | None = None) -> None:
    command = ["ip", *(("netns", "exec", namespace, "ip") if namespace else ()), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise HostNetworkUnavailable(f"{' '.join(command)}: {result.stderr.strip()}")


@dataclass
class HostNetwork:
    """``count`` vehicle hosts named ``<prefix>-<i>``; use as a context manager (everything made is removed)."""

    prefix: str
    count: int = 1
    hosts: list[Host] = field(default_factory=list)
    _links: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise HostNetworkUnavailable("network namespaces need root and iproute2's `ip` "
                                         f"(euid {os.geteuid()}, ip {'found' if shutil.which('ip') else 'missing'})")
        if len(self.prefix) > 8:
            raise ValueError(f"prefix {self.prefix!r}: at most 8 characters (interface names are short)")

    def __enter__(self) -> HostNetwork:
        try:
            for i in range(self.count):
                self._add(i)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.remove()

    def _add(self, i: int) -> None:
        # a /30 per link, picked by the prefix's hash so that parallel runs rarely share one (the namespaces
        # are apart anyway: only this process's namespace sees the fleet-side addresses)
        block = (zlib.crc32(self.prefix.encode()) + i) % (SITE_SUBNET.num_addresses // 4)
        link = list(ipaddress.ip_network(f"{SITE_SUBNET[block * 4]}/30").hosts())
        name, fleet_end, host_end = f"{self.prefix}-{i}", f"{self.prefix}f{i}", f"{self.prefix}h{i}"
        _ip("netns", "add", name)
        self.hosts.append(Host(name, str(link[1]), str(link[0])))
        # a machine id of its own, as a separate host has (``ip netns exec`` binds /etc/netns/<name>/* over
        # /etc): Fast DDS takes one machine id for one host, and would send to such a "local" peer's loopback
        etc = ETC_NETNS / name
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "machine-id").write_text(uuid.uuid4().hex + "\n")
        _ip("link", "add", fleet_end, "type", "veth", "peer", "name", host_end)
        self._links.append(fleet_end)
        _ip("link", "set", host_end, "netns", name)
        _ip("addr", "add", f"{link[0]}/30", "dev", fleet_end)
        _ip("link", "set", fleet_end, "up")
        _ip("addr", "add", f"{link[1]}/30", "dev", host_end, namespace=name)
        _ip("link", "set", host_end, "up", namespace=name)
        _ip("link", "set", "lo", "up", namespace=name)

    def remove(self) -> None:
        """Delete every link and namespace made (deleting one end of a veth pair deletes both)."""
        for link in self._links:
            subprocess.run(["ip", "link", "delete", link], capture_output=True)
        for host in self.hosts:
            subprocess.run(["ip", "netns", "delete", host.name], capture_output=True)
            shutil.rmtree(ETC_NETNS / host.name, ignore_errors=True)
        self._links.clear()
        self.hosts.clear()

    @staticmethod
    def command(host: Host, command: list[str]) -> list[str]:
        """``command`` run on ``host`` (in its namespace)."""
        return ["ip", "netns", "exec", host.name, *command]


def dds_profile(path: Path, interfaces: list[str], peers: list[str]) -> dict[str, str]:
    """Write a Fast DDS profile to ``path``: UDPv4 on ``interfaces`` (this host's site addresses) only, and
    ``peers`` and those addresses as initial peers (unicast discovery: no multicast, nothing on the machine's
    other networks); returns the environment a ROS 2 process needs to use it (add the ROS_DOMAIN_ID).

    Loopback is left out: processes on one host reach each other through the host's own site address, and no
    participant announces a 127.0.0.1 locator that a peer could take for its own. Each host needs a machine id
    of its own (``/etc/machine-id``; :class:`HostNetwork` gives each namespace one): Fast DDS takes participants
    with one machine id for one host, and then discovers the other's topics but never gets its data."""
    allowed = "".join(f"<address>{escape(a)}</address>" for a in interfaces)
    listed = "".join(f"<locator><udpv4><address>{escape(p)}</address></udpv4></locator>"
                     for p in [*interfaces, *peers])
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>site_udp</transport_id>
        <type>UDPv4</type>
        <interfaceWhiteList>{allowed}</interfaceWhiteList>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="xborder_site" is_default_profile="true">
      <rtps>
        <userTransports><transport_id>site_udp</transport_id></userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
        <builtin><initialPeersList>{listed}</initialPeersList></builtin>
      </rtps>
    </participant>
    <data_writer profile_name="xborder_site_writer" is_default_profile="true">
      <qos><data_sharing><kind>OFF</kind></data_sharing></qos>
    </data_writer>
    <data_reader profile_name="xborder_site_reader" is_default_profile="true">
      <qos><data_sharing><kind>OFF</kind></data_sharing></qos>
    </data_reader>
  </profiles>
</dds>
""", encoding="utf-8")
    return {"FASTDDS_DEFAULT_PROFILES_FILE": str(path), "ROS_AUTOMATIC_DISCOVERY_RANGE": "SYSTEM_DEFAULT",
            "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}
