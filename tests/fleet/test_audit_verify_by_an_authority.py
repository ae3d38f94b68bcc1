"""``xborder audit verify`` as a customs officer runs it on the files the fleet handed over and those kept.

The fleet rotates its own signing key: an authority that kept checkpoints from both keys checks an export with
both (``--fleet-key OLD --fleet-key NEW``); a checkpoint neither key signed is still found. Files that passed
through a Windows editor (a UTF-8 byte order mark, CRLF line ends) are the same records and keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from fleet.config import Settings
from fleet.customs.gate import CustomsGate
from fleet.customs.signing import generate_keys, load_private_key, parse_public_key
from fleet.store import Store
from fleet.transports.curve import generate_curve_keys

XBORDER = str(Path(sys.executable).with_name("xborder"))
VN_CN = "VN->CN"


def signing_gate(customs, key_path: Path) -> CustomsGate:
    return CustomsGate(customs.authorities, Store(customs.db_path), 60.0, clock=customs.clock,
                       publish=lambda topic, message: customs.published.append((topic, message)),
                       signing_key=load_private_key(key_path), checkpoint_every=(3, 3600.0))


def declare_some(customs, gate: CustomsGate, first: int) -> list[dict]:
    """Events from both authorities; the checkpoints their ACKs carried, as an authority keeps them."""
    kept = []
    for i in range(first, first + 3):
        for signer in (customs.vn, customs.cn):
            kept.append(gate.ingest(signer.event("declaration.accepted", f"VN-10450000{i:04d}", direction=VN_CN),
                                    "zmq").as_dict())
    return kept


@pytest.fixture
def rotated(customs, tmp_path):
    """An audit log whose checkpoints the fleet signed with its old key, then (after a restart on a new key) with
    the new one; the ACKs an authority kept; the export."""
    old, new = (generate_keys("fleet", tmp_path / name) for name in ("old", "new"))
    gate = signing_gate(customs, old[0])
    kept = declare_some(customs, gate, 0)
    gate.store.close()
    gate = signing_gate(customs, new[0])
    kept += declare_some(customs, gate, 10)
    export = tmp_path / "audit.jsonl"
    export.write_text("".join(r.to_json() + "\n" for r in gate.store.audit_records()))
    gate.store.close()
    acks = tmp_path / "acks.jsonl"
    acks.write_text("".join(json.dumps(ack) + "\n" for ack in kept))
    return export, acks, old[1], new[1]


def verify(export: Path, acks: Path, *keys: Path) -> subprocess.CompletedProcess:
    return subprocess.run([XBORDER, "audit", "verify", str(export), "--checkpoint", str(acks),
                           *[arg for key in keys for arg in ("--fleet-key", str(key))]],
                          capture_output=True, text=True, timeout=120)


def test_checkpoints_from_before_and_after_the_fleets_key_rotation_verify_with_both_keys(rotated):
    export, acks, old_pub, new_pub = rotated
    done = verify(export, acks, new_pub, old_pub)
    assert done.returncode == 0, done.stderr
    assert "intact" in done.stdout and "consistent with 1 checkpoint file" in done.stdout


def test_with_the_new_key_only_the_old_checkpoints_are_not_the_fleets(rotated):
    export, acks, _old_pub, new_pub = rotated
    done = verify(export, acks, new_pub)
    assert done.returncode == 1 and "not signed by the fleet's key" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_rewrite_is_found_whichever_key_signed_the_checkpoint(rotated):
    export, acks, old_pub, new_pub = rotated
    lines = export.read_text().splitlines()
    export.write_text("\n".join(lines[:2]) + "\n")  # truncated under checkpoints of both keys
    done = verify(export, acks, old_pub, new_pub)
    assert done.returncode == 1 and "truncated" in done.stderr


def windows_copy(path: Path) -> Path:
    """``path`` as an editor saving "UTF-8 with BOM" and CRLF line ends writes it."""
    copy = path.with_name(f"win-{path.name}")
    copy.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    return copy


def test_files_saved_with_a_byte_order_mark_and_crlf_verify(rotated):
    export, acks, old_pub, new_pub = rotated
    done = verify(*(windows_copy(path) for path in (export, acks, old_pub, new_pub)))
    assert done.returncode == 0, done.stderr
    export.write_text("".join(line + "\n" for line in export.read_text().splitlines()[1:]))
    cut = verify(windows_copy(export), windows_copy(acks), old_pub, new_pub)
    assert cut.returncode == 1 and "record 1 missing before record 2" in cut.stderr
    assert "not an audit record" not in cut.stderr and "not an audit checkpoint" not in cut.stderr


# --- the fleet's own restart after rotating its key ---------------------------------------------------------------

def snapshotting_gate(customs, key_path: Path, previous: tuple = ()) -> CustomsGate:
    return CustomsGate(customs.authorities, Store(customs.db_path), 60.0, clock=customs.clock,
                       publish=lambda topic, message: customs.published.append((topic, message)),
                       signing_key=load_private_key(key_path), snapshot_every=(4, 3600.0),
                       previous_fleet_keys=previous)


@pytest.fixture
def snapshot_by_the_old_key(customs, tmp_path):
    """A clearance snapshot the fleet signed with its old key, and the new key pair."""
    old, new = (generate_keys("fleet", tmp_path / name) for name in ("old", "new"))
    gate = snapshotting_gate(customs, old[0])
    declare_some(customs, gate, 0)
    assert gate.store.latest_snapshot() is not None
    gate.store.close()
    customs.published.clear()
    return old, new


def test_a_restart_on_the_fleets_new_key_keeps_its_snapshot_signed_with_the_old_one(customs, snapshot_by_the_old_key):
    old, new = snapshot_by_the_old_key
    gate = snapshotting_gate(customs, new[0], previous=(parse_public_key(old[1].read_text()),))
    assert [m for t, m in customs.published if t == "alarm"] == []  # was "not signed by the fleet's key"
    assert gate.clearance_of("VN-104500000000")["VN_CUSTOMS"] == "declared"
    gate.store.close()


def test_without_the_old_key_listed_the_snapshot_is_not_trusted(customs, snapshot_by_the_old_key):
    _old, new = snapshot_by_the_old_key
    snapshotting_gate(customs, new[0]).store.close()
    alarms = [m["reason"] for t, m in customs.published if t == "alarm"]
    assert len(alarms) == 1 and "not signed by the fleet's key" in alarms[0]


def test_the_config_takes_the_fleets_previous_keys(tmp_path, key_dir):
    old, new = (generate_keys("fleet", tmp_path / name) for name in ("old", "new"))
    generate_curve_keys("fleet", tmp_path / "new")
    fleet = {"signing_key": str(new[0]), "curve_key": str(tmp_path / "new" / "fleet.curve.key")}
    customs = {"authorities": {name: {"public_key": (key_dir / f"{name}.pub").read_text().strip(), "side": name[:2]}
                               for name in ("VN_CUSTOMS", "CN_CUSTOMS")}}
    settings = Settings.model_validate({"customs": {**customs, "fleet": {
        **fleet, "previous_public_keys": [old[1].read_text().strip()]}}})
    assert settings.customs.fleet is not None
    assert [k.public_bytes_raw() for k in settings.customs.fleet.previous_keys()] == [
        parse_public_key(old[1].read_text()).public_bytes_raw()]
    with pytest.raises(ValidationError, match="previous_public_keys"):
        Settings.model_validate({"customs": {**customs, "fleet": {**fleet, "previous_public_keys": ["not a key"]}}})


# --- a file of every message the authority kept --------------------------------------------------------------------

def test_a_file_of_every_pub_message_kept_verifies(customs, tmp_path):
    """The authority keeps every signed PUB message (§10: checkpoints, decisions, crossings); those that carry no
    checkpoint were each 'not an audit checkpoint' (exit 1, as if the fleet's evidence were bad)."""
    keys = generate_keys("fleet", tmp_path / "keys")
    gate = signing_gate(customs, keys[0])
    for signer in (customs.vn, customs.cn):
        for kind in ("declaration.accepted", "released"):
            gate.ingest(signer.event(kind, "VN-104500000001", direction=VN_CN), "zmq")
        gate.ingest(signer.event("vehicle.authorized", vehicle_id="agv_001"), "zmq")
    gate.decide("agv_001", VN_CN, ["VN-104500000001"])
    gate.record_crossing("agv_001", VN_CN, ["VN-104500000001"], 1)
    gate.tick()
    export, kept = tmp_path / "audit.jsonl", tmp_path / "pub.jsonl"
    export.write_text("".join(r.to_json() + "\n" for r in gate.store.audit_records()))
    gate.store.close()
    messages = [{**message, "topic": topic} for topic, message in customs.published]
    assert {m["topic"] for m in messages} >= {"checkpoint", "decision", "crossing", "clearance"}
    kept.write_text("".join(json.dumps(m) + "\n" for m in messages))
    done = verify(export, kept, keys[1])
    assert done.returncode == 0, done.stderr
    kept.write_text(kept.read_text() + '{"topic": "checkpoint", "checkpoint": {"kind": "garbled"}}\n{"hello": 1}\n')
    garbled = verify(export, kept, keys[1])  # what does not carry a checkpoint as a message would is still found
    assert garbled.returncode == 1 and garbled.stderr.count("not an audit checkpoint") == 2, garbled.stderr
