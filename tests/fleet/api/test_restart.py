"""``xborder serve`` killed with SIGKILL and started again on the same store: orders (with their timelines),
staff actions and idempotency keys are all there."""

from __future__ import annotations

import httpx

from sim.service_process import ServiceProcess, token_for

NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")


def test_orders_survive_a_kill(tmp_path, key_dir):
    service = ServiceProcess(tmp_path, {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES},
                             fleet={"link": "inprocess", "simulated": 2}).start()
    headers = {"Authorization": f"Bearer {token_for('dispatcher')}", "Idempotency-Key": "restart-1"}
    body = {"consignments": ["VN-RST000000001"], "pickup": "vn_dock_1", "drop": "cn_dock_1"}
    try:
        created = httpx.post(f"{service.base}/orders", json=body, headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        order_id = created.json()["id"]
        before = service.get(f"/orders/{order_id}")
        service.kill()
        service.start()
        after = service.get(f"/orders/{order_id}")
        assert after["timeline"][:len(before["timeline"])] == before["timeline"]
        again = httpx.post(f"{service.base}/orders", json=body, headers=headers, timeout=10)
        assert again.status_code == 200 and again.json()["id"] == order_id
        assert service.get("/orders")["total"] == 1
        assert httpx.get(f"{service.base}/audit/verify", timeout=10,
                         headers={"Authorization": f"Bearer {token_for('viewer')}"}).json()["ok"]
    finally:
        service.stop()
