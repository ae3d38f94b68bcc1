"""An integrator's script that retries ``POST /orders`` after a timeout, over real HTTP (uvicorn on a loopback
port): the retry may reach the service while the first request is still being answered. With the same
Idempotency-Key it gets the same order (201 for one, 200 for the others), never a refusal of the consignment the
first one booked; with other content under the key it is refused (409 naming the header), never a 500."""

from __future__ import annotations

import threading
import time

import httpx

from tests.fleet.api.conftest import auth
from tests.fleet.conftest import holding_write_lock


def _at_once(served: str, store_location, bodies: list[dict], key: str) -> list[httpx.Response]:
    """``bodies`` posted under one Idempotency-Key, each in a thread of its own, while another connection holds the
    store's write lock: every request has looked for the key before any of them is written."""
    replies: list[httpx.Response] = []

    def post(body: dict) -> None:
        replies.append(httpx.post(f"{served}/api/v1/orders", json=body, timeout=30,
                                  headers={**auth("dispatcher"), "Idempotency-Key": key}))

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    with holding_write_lock(store_location):
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # each request waits for the write lock now (the store waits 5 s for it)
    for thread in threads:
        thread.join(30)
    return replies


def _orders(served: str) -> list[dict]:
    return httpx.get(f"{served}/api/v1/orders", headers=auth("viewer"), timeout=10).json()["orders"]


def test_a_retry_sent_while_the_first_request_is_answered_gets_the_same_order(served, store_location, docks):
    """Was: one 201, the retries 409 "consignment VN-RETRY0000001 is already on active order ..." (its own)."""
    body = {"consignments": ["VN-RETRY0000001"], "pickup": docks["VN"][0], "drop": docks["CN"][0]}
    replies = _at_once(served, store_location, [body] * 3, "script-run-7")
    assert sorted(r.status_code for r in replies) == [200, 200, 201], [r.text for r in replies]
    [order] = _orders(served)
    assert {r.json()["id"] for r in replies} == {order["id"]}


def test_a_key_reused_at_once_for_other_orders_is_409_not_500(served, store_location, docks):
    """Was: one 201, the others 500 Internal Server Error (the key's unique index)."""
    bodies = [{"consignments": [f"VN-RETRY000001{i}"], "pickup": docks["VN"][i], "drop": docks["CN"][i]}
              for i in range(3)]
    replies = _at_once(served, store_location, bodies, "not-so-unique")
    assert sorted(r.status_code for r in replies) == [201, 409, 409], [r.text for r in replies]
    assert all(r.json()["field"] == "Idempotency-Key" for r in replies if r.status_code == 409)
    assert len(_orders(served)) == 1
