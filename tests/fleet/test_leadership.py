"""Active/standby on a real PostgreSQL server: one leader, fencing of a deposed leader's writes, takeover when
the leader's process is killed, stepping down when the database is out of reach, a database restart."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa

from fleet.store import Store, verify_chain
from fleet.store.database import NotLeaderError
from fleet.store.leadership import LEADER_LOCK, Leadership
from sim.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow


def wait_for(condition, timeout_s: float, step_s: float = 0.05) -> float:
    """Seconds until ``condition()`` held; AssertionError after ``timeout_s``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"not within {timeout_s} s")
        time.sleep(step_s)
    return time.monotonic() - start


@pytest.fixture
def url(postgres) -> str:
    return postgres.create_database()


def elect(url: str, node: str, **timing) -> Leadership:
    return Leadership(Store(url), node, **timing).start()


def test_one_leads_the_standby_writes_nothing(url):
    first = elect(url, "fm-a", poll_s=0.1)
    wait_for(lambda: first.leading, 5)
    second = elect(url, "fm-b", poll_s=0.1)
    time.sleep(0.5)
    assert first.leading and not second.leading
    assert second.current().holder == "fm-a"  # a standby reads
    first.store.audit("test", {"by": "fm-a"})
    with pytest.raises(NotLeaderError, match="standby"):
        second.store.audit("test", {"by": "fm-b"})
    assert [r.body["by"] for r in second.store.audit_records()] == ["fm-a"]
    first.stop()
    wait_for(lambda: second.leading, 2)  # a clean stop hands over at the standby's next poll
    second.store.audit("test", {"by": "fm-b"})
    with pytest.raises(NotLeaderError):
        first.store.audit("test", {"by": "fm-a, stopped"})
    second.stop()


def test_a_standby_that_took_the_lock_says_it_is_taking_over(url, tmp_path):
    """Between taking the lock and its full API taking the port (building the services, ~4 s in an HA failover),
    the standby's API answers on: its 503 named the node itself as the leader to ask ("fm-b is a standby ...
    ask the leader, fm-b (epoch 2)"). It says it is taking over."""
    from fastapi.testclient import TestClient

    from fleet.api.standby import create_standby_app
    from fleet.defaults import default_settings
    from fleet.maps import load_corridor

    first = elect(url, "fm-a", poll_s=0.1)
    wait_for(lambda: first.leading, 5)
    second = elect(url, "fm-b", poll_s=0.1)
    settings = default_settings(tmp_path / "var").settings
    client = TestClient(create_standby_app(settings, second.store, second, load_corridor("maps/bac_luan_ii")))
    waiting = client.get("/api/v1/health").json()
    assert (waiting["role"], waiting["leader"]) == ("standby", "fm-a") and "ask the leader, fm-a (epoch 1)" in \
        waiting["detail"], waiting
    first.stop()
    wait_for(lambda: second.leading, 2)
    for reply in (client.get("/api/v1/health"), client.post("/api/v1/orders", json={})):
        body = reply.json()
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "1", reply.text
        assert (body["role"], body["leader"], body["epoch"]) == ("taking_over", "fm-b", 2), body
        assert body["detail"].startswith("fm-b is taking over as the leader (epoch 2), not serving yet: ") \
            and body["detail"].endswith("; ask again in a moment") and "standby" not in body["detail"], body
    second.stop()


def test_a_deposed_leader_that_has_not_noticed_is_refused(url, postgres):
    """The leader's lock session ends (server side) while the leader is too slow to notice (a long poll: a
    paused process); the standby takes over, and the old leader's late write finds a newer epoch."""
    old = elect(url, "fm-a", poll_s=60, lease_s=120)
    wait_for(lambda: old.leading, 5)
    old.store.audit("test", {"by": "fm-a"})
    with sa.create_engine(postgres.url("postgres"), isolation_level="AUTOCOMMIT").connect() as admin:
        ended = admin.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_locks "
                                      "WHERE locktype = 'advisory' AND granted AND objid = :low"),
                              {"low": LEADER_LOCK & 0xFFFFFFFF}).all()
    assert ended
    new = elect(url, "fm-b", poll_s=0.1)
    wait_for(lambda: new.leading, 5)
    assert old.leading  # it still believes it leads
    with pytest.raises(NotLeaderError, match="deposed"):
        old.store.audit("test", {"by": "fm-a, late"})
    new.store.audit("test", {"by": "fm-b"})
    records = list(new.store.audit_records())
    assert [r.body["by"] for r in records] == ["fm-a", "fm-b"] and verify_chain(r.to_json() for r in records) == []
    new.stop()


LEADER_SCRIPT = textwrap.dedent("""
    import sys, time
    from fleet.store import Store
    from fleet.store.leadership import Leadership
    leadership = Leadership(Store(sys.argv[1]), "fm-a", poll_s=0.1).start()
    while not leadership.leading:
        time.sleep(0.05)
    i = 0
    while True:  # writes until killed
        leadership.store.audit("test", {"by": "fm-a", "i": i})
        print(i, flush=True)
        i += 1
        time.sleep(0.01)
""")


def test_the_standby_takes_over_when_the_leader_is_killed(url):
    leader = subprocess.Popen([sys.executable, "-c", LEADER_SCRIPT, url], stdout=subprocess.PIPE, text=True)
    try:
        assert leader.stdout is not None
        for _ in range(20):  # the leader is writing
            leader.stdout.readline()
        standby = elect(url, "fm-b", poll_s=0.2)
        time.sleep(0.5)
        assert not standby.leading
        leader.kill()
        killed = time.monotonic()
        leader.wait(timeout=10)
        took_over = wait_for(lambda: standby.leading, 5, step_s=0.01)
        standby.store.audit("test", {"by": "fm-b"})
    finally:
        leader.kill()
    records = list(standby.store.audit_records())
    assert verify_chain(r.to_json() for r in records) == []
    assert records[-1].body == {"by": "fm-b"} and all(r.body["by"] == "fm-a" for r in records[:-1])
    print(f"takeover after kill -9: {time.monotonic() - killed:.2f} s (standby polling every 0.2 s)")
    assert took_over < 5
    standby.stop()


def test_a_leader_cut_off_from_the_database_steps_down(url, postgres):
    proxy = TcpProxy(postgres.port)
    through_proxy = url.replace(f":{postgres.port}/", f":{proxy.port}/")
    leader = elect(through_proxy, "fm-a", poll_s=0.2, lease_s=2.0)
    wait_for(lambda: leader.leading, 5)
    standby = elect(url, "fm-b", poll_s=0.2)
    leader.store.audit("test", {"by": "fm-a"})
    proxy.cut()
    cut = time.monotonic()
    stepped_down = took_over = None
    while stepped_down is None or took_over is None:  # each measured from the cut
        now = time.monotonic() - cut
        assert now < 5, "neither stepped down nor took over within 5 s"
        stepped_down = now if stepped_down is None and not leader.leading else stepped_down
        took_over = now if took_over is None and standby.leading else took_over
        time.sleep(0.01)
    standby.store.audit("test", {"by": "fm-b"})
    time.sleep(max(0.0, 10 - (time.monotonic() - cut)))  # the network stays cut for 10 s
    proxy.restore()
    time.sleep(1.5)  # the old leader reaches the database again: it stays a standby
    assert standby.leading and not leader.leading
    with pytest.raises(NotLeaderError):
        leader.store.audit("test", {"by": "fm-a, after the cut"})
    assert [r.body["by"] for r in standby.store.audit_records()] == ["fm-a", "fm-b"]
    print(f"network cut: the standby led after {took_over:.2f} s (the server reset the old leader's session), "
          f"the cut-off leader stepped down after {stepped_down:.2f} s (lease 2 s; fencing refused its writes "
          "in between)")
    leader.stop()
    standby.stop()
    proxy.close()


def test_a_database_restart_under_load_keeps_one_leader_and_one_chain(tmp_path):
    from sim.postgres import PostgresServer

    server = PostgresServer().start()
    try:
        url = server.create_database()
        nodes = [elect(url, name, poll_s=0.2, lease_s=2.0) for name in ("fm-a", "fm-b")]
        wait_for(lambda: any(n.leading for n in nodes), 5)
        written, refused = 0, 0
        restarted_at = None
        start = time.monotonic()
        while time.monotonic() - start < 8:
            for node in nodes:
                if node.leading:
                    try:
                        node.store.audit("test", {"by": node.node, "i": written})
                        written += 1
                    except Exception:
                        refused += 1
            if restarted_at is None and time.monotonic() - start > 1:
                server.restart("fast")
                restarted_at = time.monotonic()
            time.sleep(0.01)
        back = wait_for(lambda: sum(n.leading for n in nodes) == 1, 10)
        assert sum(n.leading for n in nodes) == 1
        records = list(Store(url).audit_records())
        assert len(records) == written and verify_chain(r.to_json() for r in records) == []
        assert written > 20 and records[-1].seq == written
        print(f"database restart: {written} records written, {refused} refused while it was down; "
              f"one leader again {back:.2f} s after the load ended")
        for node in nodes:
            node.stop()
    finally:
        server.close()
