"""Starting: the embedded default (map found from the package, a simulated fleet, keys and tokens made once
under var/, owner-only) and a deployment's config refused at start with the field named."""

from __future__ import annotations

import stat

import pytest
import yaml

from fleet.config import DEFAULT_MAP, ConfigError, FleetConfig, load_settings
from fleet.defaults import default_settings
from fleet.maps import load_corridor
from fleet.roles import STAFF_ROLES
from fleet.services import configured_fleet


@pytest.fixture(scope="module")
def corridor():
    return load_corridor(DEFAULT_MAP)


def test_default_makes_keys_and_tokens_once_owner_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the map is found from the package, not the working directory
    var = tmp_path / "var"
    boot = default_settings(var)
    assert {p.name for p in boot.created} == {f"{name}{kind}" for name in ("VN_CUSTOMS", "CN_CUSTOMS", "fleet")
                                              for kind in (".key", ".pub", ".curve.key", ".curve.pub")} | {
        "tokens.yaml"}
    assert boot.settings.customs.link_security() is not None  # the customs link is CURVE-secured by default
    for path in boot.created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(boot.keys_dir.stat().st_mode) == 0o700
    tokens = yaml.safe_load(boot.tokens_file.read_text())
    assert set(tokens) == {*STAFF_ROLES, "customs:VN_CUSTOMS", "customs:CN_CUSTOMS"}
    assert len(set(tokens.values())) == len(tokens) and all(len(t) >= 32 for t in tokens.values())
    settings = boot.settings
    assert settings.map == DEFAULT_MAP and settings.map.is_dir()
    assert settings.store.path == var / "xborder.db" and settings.fleet.simulated == 10
    again = default_settings(var)
    assert again.created == [] and yaml.safe_load(again.tokens_file.read_text()) == tokens
    assert {a.public_key_file for a in again.settings.customs.authorities.values()} == \
        {a.public_key_file for a in settings.customs.authorities.values()}


def test_simulated_fleet_stands_on_parking_spots_of_both_sides(corridor):
    fleet = configured_fleet(FleetConfig(simulated=10), corridor)
    assert [v.id for v in fleet] == [f"agv_{i:03d}" for i in range(1, 11)]
    assert all(corridor.nodes[v.start_node].kind == "parking" for v in fleet)
    assert len({v.start_node for v in fleet}) == 10
    assert all(v.home == corridor.nodes[v.start_node].jurisdiction for v in fleet)


def write_config(tmp_path, key_dir, **changes):
    config = {
        "fleet": {"vehicles": [{"id": "agv_001", "home": "VN", "start_node": "vn_park_1"}]},
        "customs": {"authorities": {"VN_CUSTOMS": {"public_key_file": str(key_dir / "VN_CUSTOMS.pub"), "side": "VN"},
                                    "CN_CUSTOMS": {"public_key_file": "keys/CN_CUSTOMS.pub", "side": "CN"}}},
        "auth": {"tokens": [{"token": "t" * 20, "role": "viewer"}]}}
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        target = config
        for part in path:
            target = target[part]
        target[last] = value
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "CN_CUSTOMS.pub").write_text((key_dir / "CN_CUSTOMS.pub").read_text())
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_good_config_reads_key_files_relative_to_itself(tmp_path, key_dir, corridor):
    settings = load_settings(write_config(tmp_path, key_dir, fleet={"vehicles": [
        {"id": "agv_001", "home": "VN", "start_node": next(iter(corridor.nodes))}]}))
    assert settings.customs.authorities["CN_CUSTOMS"].public_key_file == tmp_path / "keys" / "CN_CUSTOMS.pub"
    assert {a.name for a in settings.customs.gate_authorities()} == {"VN_CUSTOMS", "CN_CUSTOMS"}
    assert settings.map == DEFAULT_MAP and settings.fleet.link == "ros"


def test_missing_key_file_is_refused_naming_the_field(tmp_path, key_dir):
    path = write_config(tmp_path, key_dir, customs__authorities__CN_CUSTOMS__public_key_file="keys/nope.pub")
    with pytest.raises(ConfigError, match=r"customs\.authorities\.CN_CUSTOMS\.public_key_file: .*nope\.pub"):
        load_settings(path)


@pytest.mark.parametrize("shared", ["public_key_file", "curve_public_key", "previous_public_keys"])
def test_one_key_for_two_authorities_is_refused(tmp_path, key_dir, shared):
    """Found by hand: VN_CUSTOMS and CN_CUSTOMS configured with one signing key (a copy-paste) let either sign the
    other's events (a VN-signed hold claiming CN was applied as CN's word); with one CURVE key the ZeroMQ link named
    every sender by the last of them, so VN's own events were refused as CN's."""
    vn_pub, vn_curve = (key_dir / "VN_CUSTOMS.pub"), (key_dir / "VN_CUSTOMS.curve.pub").read_text().strip()
    authorities = {"VN_CUSTOMS": {"public_key_file": str(vn_pub), "side": "VN", "curve_public_key": vn_curve},
                   "CN_CUSTOMS": {"public_key_file": str(key_dir / "CN_CUSTOMS.pub"), "side": "CN",
                                  "curve_public_key": (key_dir / "CN_CUSTOMS.curve.pub").read_text().strip()}}
    authorities["CN_CUSTOMS"][shared] = {"public_key_file": str(vn_pub), "curve_public_key": vn_curve,
                                         "previous_public_keys": [vn_pub.read_text().strip()]}[shared]
    path = write_config(tmp_path, key_dir, customs={"authorities": authorities})
    with pytest.raises(ConfigError, match=r"customs: .*CN_CUSTOMS and VN_CUSTOMS share a (signing|CURVE) key"):
        load_settings(path)


def test_unknown_role_is_refused_naming_the_field(tmp_path, key_dir):
    path = write_config(tmp_path, key_dir, auth={"tokens": [{"token": "a" * 20, "role": "viewer"},
                                                            {"token": "b" * 20, "role": "customs:XX_CUSTOMS"}]})
    with pytest.raises(ConfigError, match=r"auth\.tokens\.1\.role: unknown role 'customs:XX_CUSTOMS'"):
        load_settings(path)


def test_a_vehicle_on_no_map_node_is_refused_naming_the_field(tmp_path, key_dir, corridor):
    settings = load_settings(write_config(tmp_path, key_dir, fleet={"vehicles": [
        {"id": "agv_001", "home": "VN", "start_node": next(iter(corridor.nodes))},
        {"id": "agv_002", "home": "CN", "start_node": "the_moon"}]}))
    with pytest.raises(ConfigError, match=r"fleet\.vehicles\.1\.start_node: 'the_moon' \(vehicle agv_002\)"):
        configured_fleet(settings.fleet, corridor)


@pytest.mark.parametrize(("fleet", "message"), [
    ({"simulated": 2, "vehicles": [{"id": "agv_001", "home": "VN", "start_node": "n"}]}, "not both"),
    ({"vehicles": [{"id": "agv_001", "home": "VN", "start_node": "n"}] * 2}, "listed twice"),
    ({"link": "carrier_pigeon"}, r"fleet\.link"),
    ({"vehicles": [{"id": "AGV 1", "home": "VN", "start_node": "n"}]}, r"fleet\.vehicles\.0\.id"),
])
def test_fleet_section_checked(tmp_path, key_dir, fleet, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write_config(tmp_path, key_dir, fleet=fleet))


def test_the_mqtt_login_reads_its_password_from_a_file_beside_the_config(tmp_path, key_dir):
    (tmp_path / "mqtt.password").write_text("s3cret-pass\n")
    settings = load_settings(write_config(tmp_path, key_dir, fleet={"link": "mqtt", "mqtt": {
        "username": "xborder-fleet", "password_file": "mqtt.password"}}))
    assert settings.fleet.mqtt.password() == "s3cret-pass"
    for mqtt, message in [({"username": "xborder-fleet"}, "username and password_file together"),
                          ({"username": "x", "password_file": "nope"}, r"fleet\.mqtt\.password_file: .*cannot read"),
                          ({"tls_ca": "no-ca.pem"}, r"fleet\.mqtt\.tls_ca: .*cannot read")]:
        with pytest.raises(ConfigError, match=message):
            load_settings(write_config(tmp_path, key_dir, fleet={"link": "mqtt", "mqtt": mqtt}))


def test_too_many_simulated_vehicles_for_the_map(corridor):
    with pytest.raises(ConfigError, match=r"fleet\.simulated"):
        configured_fleet(FleetConfig(simulated=10_000), corridor)


def test_a_customs_endpoint_in_use_is_refused_naming_the_field(tmp_path, key_dir):
    import zmq

    from fleet.services import build_services

    taken = zmq.Context.instance().socket(zmq.PUB)
    taken.setsockopt(zmq.LINGER, 0)
    port = taken.bind_to_random_port("tcp://127.0.0.1")
    try:
        settings = load_settings(write_config(tmp_path, key_dir, fleet={"link": "inprocess"}, customs__zmq={
            "pub": f"tcp://127.0.0.1:{port}", "router": "tcp://127.0.0.1:*"}, store={"path": str(tmp_path / "f.db")}))
        with pytest.raises(ConfigError, match=rf"customs\.zmq\.pub: cannot bind tcp://127\.0\.0\.1:{port}"):
            build_services(settings)
    finally:
        taken.close()


@pytest.mark.parametrize(("fleet", "auth", "message"), [
    ({"link": "inprocess", "vehicles": [{"id": "agv_001", "home": "VN", "start_node": "the_moon"}]}, None,
     "fleet.vehicles.0.start_node: 'the_moon'"),
    (None, {"tokens": [{"token": "a" * 20, "role": "superuser"}]}, "auth.tokens.0.role: unknown role 'superuser'"),
])
def test_serve_refuses_a_bad_config_before_serving(tmp_path, key_dir, fleet, auth, message):
    from typer.testing import CliRunner

    from fleet.cli import build_app

    changes = {"store": {"path": str(tmp_path / "f.db")}, **({"fleet": fleet} if fleet else {}),
               **({"auth": auth} if auth else {})}
    result = CliRunner().invoke(build_app(), ["serve", "--config", str(write_config(tmp_path, key_dir, **changes))])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize(("content", "message"), [
    (b"\x81\x00\xfe binary, not a config", "not a UTF-8 text file"),
    (None, "cannot be read"),  # a folder given as the config
])
def test_a_config_that_is_no_text_file_is_refused_without_a_traceback(tmp_path, content, message):
    """A binary file (a key file, an image, a corrupt copy) or a folder given as the config: ``xborder serve``
    said so with a traceback (UnicodeDecodeError, IsADirectoryError) and exit code 1, not a refusal."""
    from typer.testing import CliRunner

    from fleet.cli import build_app

    path = tmp_path / "fleet.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)
    result = CliRunner().invoke(build_app(), ["serve", "--config", str(path)])
    assert result.exit_code == 2 and f"{path}: " in result.output and message in result.output
