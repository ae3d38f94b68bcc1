"""The audit log: append-only in the database, and any edited, removed or reordered record found in an export."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.store import verify_chain
from fleet.store.audit import GENESIS, record_hash
from fleet.store.database import store_url

pytestmark = pytest.mark.both_backends  # the store's SQLite file and a PostgreSQL database

XBORDER = str(Path(sys.executable).with_name("xborder"))


@pytest.fixture
def exported(customs, gate) -> list[str]:
    c = "VN-104500000001"
    for signer in (customs.vn, customs.cn):
        gate.ingest(signer.event("declaration.accepted", c, direction="VN->CN"), "test")
        gate.ingest(signer.event("released", c, direction="VN->CN"), "test")
    gate.ingest(b"garbage", "test")
    gate.decide("agv_001", "VN->CN", [c])
    lines = [r.to_json() for r in gate.store.audit_records()]
    assert len(lines) == 6 and verify_chain(lines) == []
    return lines


def test_edited_record_is_found(exported):
    record = json.loads(exported[2])
    record["body"]["type"] = "hold"
    exported[2] = json.dumps(record)
    assert verify_chain(exported) == ["line 3: record 3 was edited (its hash does not match its content)"]


def test_edited_and_rehashed_record_breaks_the_chain_after_it(exported):
    record = json.loads(exported[2])
    record["body"]["type"] = "hold"
    record["hash"] = record_hash(record["seq"], record["recorded_at"], record["kind"], record["body"],
                                 record["prev_hash"])
    exported[2] = json.dumps(record)
    assert verify_chain(exported) == ["line 4: record 4 does not follow the previous record (chain broken)"]


def test_removed_record_is_found(exported):
    del exported[3]
    assert verify_chain(exported) == ["line 4: record 4 missing before record 5"]


def test_reordered_records_are_found(exported):
    exported[1], exported[2] = exported[2], exported[1]
    problems = verify_chain(exported)
    assert problems[0] == "line 2: record 2 missing before record 3"
    assert "line 3: record 2 out of order (expected 4)" in problems


def test_not_a_record_is_found(exported):
    exported.insert(1, '{"hello": 1}')
    assert verify_chain(exported)[0].startswith("line 2: not an audit record")


def test_the_database_refuses_to_change_the_log(customs, gate, exported):
    """The append-only triggers (SQLite's, PostgreSQL's), met by a client that bypasses the store."""
    engine = sa.create_engine(store_url(customs.db_path))
    for statement in ("UPDATE audit_log SET kind = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1"):
        with engine.connect() as db, pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.execute(sa.text(statement))
    engine.dispose()


def test_export_and_verify_commands(customs, gate, exported, tmp_path):
    gate.store.close()
    out = tmp_path / "audit.jsonl"
    done = subprocess.run([XBORDER, "audit", "export", "--db", str(customs.db_path), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "exported 6 records" in done.stdout
    assert out.read_text().splitlines() == exported
    ok = subprocess.run([XBORDER, "audit", "verify", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0 and "intact: 6 records" in ok.stdout
    lines = out.read_text().splitlines()
    del lines[0]
    out.write_text("\n".join(lines) + "\n")
    bad = subprocess.run([XBORDER, "audit", "verify", str(out)], capture_output=True, text=True)
    assert bad.returncode == 1 and "record 1 missing before record 2" in bad.stderr


def test_keys_generate_command(tmp_path):
    done = subprocess.run([XBORDER, "keys", "generate", "--authority", "VN_CUSTOMS", "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from fleet.customs.signing import load_private_key, parse_public_key, public_key_b64

    key = load_private_key(tmp_path / "VN_CUSTOMS.key")
    assert public_key_b64(key.public_key()) == (tmp_path / "VN_CUSTOMS.pub").read_text().strip()
    parse_public_key((tmp_path / "VN_CUSTOMS.pub").read_text())
    assert (tmp_path / "VN_CUSTOMS.key").stat().st_mode & 0o777 == 0o600
    from fleet.transports.curve import CurvePair, check_curve_key

    curve = CurvePair.from_secret_file(tmp_path / "VN_CUSTOMS.curve.key")
    assert curve.public == check_curve_key((tmp_path / "VN_CUSTOMS.curve.pub").read_text())
    assert (tmp_path / "VN_CUSTOMS.curve.key").stat().st_mode & 0o777 == 0o600
    fleet = subprocess.run([XBORDER, "keys", "generate", "--fleet", "--out", str(tmp_path)], capture_output=True,
                           text=True)
    assert fleet.returncode == 0 and (tmp_path / "fleet.key").is_file() and (tmp_path / "fleet.curve.pub").is_file()
    bad = subprocess.run([XBORDER, "keys", "generate", "--authority", "vn customs", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # what UTF-8 can carry
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | _TEXT, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2**53), _TEXT, _TEXT, st.dictionaries(_TEXT, _JSON, max_size=4))
def test_the_hash_of_a_serialised_body_is_the_hash_of_the_record(seq, recorded_at, kind, body):
    """The store serialises each body once and hashes that text: it must be the documented hash exactly."""
    content = json.dumps({"seq": seq, "recorded_at": recorded_at, "kind": kind, "body": body}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(f"{GENESIS}\n{content}".encode()).hexdigest()
    assert record_hash(seq, recorded_at, kind, body, GENESIS) == expected
