"""An authority rotates its Ed25519 key: the fleet's config names the new key, and the old one under
``previous_public_keys``. Found by hand: with the new key alone, every stored event the old key had signed failed
re-verification on restart (an alarm each, "its signature does not verify"), its clearance was gone and its seqs
were a gap that denied every crossing for good (resending them was a duplicate, never applied)."""

from __future__ import annotations

import httpx
import pytest
import yaml

from fleet.config import ConfigError, load_settings
from fleet.customs.gate import Authority, CustomsGate, Outcome
from fleet.customs.signing import EventSigner, generate_keys, load_private_key, parse_public_key
from fleet.store import Store
from sim.service_process import ServiceProcess, token_for

C1 = "VN-104512345678"
VN_CN = "VN->CN"
NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")


@pytest.fixture
def new_vn(tmp_path):
    """VN_CUSTOMS's new key pair."""
    key, pub = generate_keys("VN_CUSTOMS", tmp_path / "new")
    return load_private_key(key), pub.read_text().strip()


def clear(signers: dict[str, EventSigner], post) -> None:
    for signer in signers.values():
        for kind in ("declaration.accepted", "released"):
            assert post(signer.event(kind, C1, direction=VN_CN)) == "accepted"
        assert post(signer.event("vehicle.authorized", vehicle_id="agv_001")) == "accepted"


def test_events_the_old_key_signed_still_count_after_a_restart_and_only_the_new_key_signs_new_ones(customs, new_vn):
    gate = customs.gate()
    clear({"VN": customs.vn, "CN": customs.cn}, lambda event: gate.ingest(event, "t").outcome)
    gate.store.close()
    old_vn = next(a for a in customs.authorities if a.name == "VN_CUSTOMS")
    rotated = [
        Authority("VN_CUSTOMS", "VN", parse_public_key(new_vn[1]), (old_vn.public_key,)),
        *(a for a in customs.authorities if a.name != "VN_CUSTOMS"),
    ]
    customs.published.clear()
    again = CustomsGate(
        rotated,
        Store(customs.db_path),
        clock=customs.clock,
        publish=lambda topic, message: customs.published.append((topic, message)),
    )
    assert [m for topic, m in customs.published if topic == "alarm"] == []
    assert again.evaluate("agv_001", VN_CN, [C1]).allowed
    assert again.verify_replay() == []
    signer = EventSigner("VN_CUSTOMS", new_vn[0], first_seq=4, clock=customs.clock)
    assert again.ingest(signer.event("hold", C1, direction=VN_CN), "t").outcome == Outcome.ACCEPTED
    stale = customs.vn.event("hold.lifted", C1, direction=VN_CN, seq=5)  # the retired key signs nothing new
    refused = again.ingest(stale, "t")
    assert refused.outcome == Outcome.REFUSED and refused.reason == "bad signature: not signed by VN_CUSTOMS's key"
    assert again.evaluate("agv_001", VN_CN, [C1]).reasons == (f"VN_CUSTOMS: consignment {C1} on hold",)


def test_a_previous_key_in_the_config(tmp_path, key_dir, new_vn):
    authorities = {name: {"public_key_file": str(key_dir / f"{name}.pub"), "side": name[:2]} for name in NAMES}
    authorities["VN_CUSTOMS"] = {
        "public_key": new_vn[1],
        "side": "VN",
        "previous_public_keys": [(key_dir / "VN_CUSTOMS.pub").read_text().strip()],
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"customs": {"authorities": authorities}}))
    vn = next(a for a in load_settings(path).customs.gate_authorities() if a.name == "VN_CUSTOMS")
    assert vn.public_key.public_bytes_raw() == parse_public_key(new_vn[1]).public_bytes_raw()
    assert [k.public_bytes_raw() for k in vn.previous_keys] == [
        parse_public_key((key_dir / "VN_CUSTOMS.pub").read_text()).public_bytes_raw()
    ]
    authorities["VN_CUSTOMS"]["previous_public_keys"] = ["not a key"]
    path.write_text(yaml.safe_dump({"customs": {"authorities": authorities}}))
    with pytest.raises(ConfigError, match="previous_public_keys"):
        load_settings(path)


def test_xborder_serve_restarted_on_a_rotated_key_keeps_the_clearance(tmp_path, key_dir, signers, new_vn):
    """The real process: events over HTTP, serve stopped, its config rotated to VN's new key, serve started again."""
    service = ServiceProcess(tmp_path, {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES}).start()
    try:

        def post(event: dict) -> str:
            headers = {"Authorization": f"Bearer {token_for('customs:' + event['authority'])}"}
            reply = httpx.post(f"{service.base}/customs/events", json=event, headers=headers, timeout=10)
            return reply.json()["outcome"]

        clear(signers, post)
        service.stop()
        config = yaml.safe_load(service.config.read_text())
        vn = config["customs"]["authorities"]["VN_CUSTOMS"]
        vn["previous_public_keys"], vn["public_key"] = [vn["public_key"]], new_vn[1]
        service.config.write_text(yaml.safe_dump(config))
        service.start()
        assert service.get("/alarms")["alarms"] == []  # no stored event taken for a forgery
        crossing = service.get("/vehicles/agv_001/crossing", direction=VN_CN, consignments=C1)
        assert crossing["crossing_allowed"] is True, crossing["reasons"]
        assert post(EventSigner("VN_CUSTOMS", new_vn[0], first_seq=4).event("heartbeat")) == "accepted"
    finally:
        service.stop()
