"""A read worker's proxy to the loop's process (fleet/api/proxy.py) when the leader drops a kept-alive connection
under a request: the race that gave a console's poll of ``/summary`` a 503 in CI (the worker's idle connection
expired on the same 5 s as the leader's keep-alive). The leader here is a real socket server that answers the
first request on each connection and closes the connection when a second one comes, unanswered."""

from __future__ import annotations

import asyncio

import httpx

from fleet.api.proxy import LeaderProxy


async def _leader_closing_on_second_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    answered = 0
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                       if line.startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        if answered:
            writer.close()  # as a server closing an idle connection just as a request arrives on it
            return
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        answered += 1


async def _through_proxy(requests: list[tuple[str, str]]) -> list[int]:
    server = await asyncio.start_server(_leader_closing_on_second_request, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def nothing_to_catch_up(_answer: httpx.Response) -> None:
        return None

    proxy = LeaderProxy(f"http://127.0.0.1:{port}", nothing_to_catch_up, leader_keep_alive_s=5.0)

    async def worker(scope, receive, send) -> None:
        await proxy.http(scope, receive, send)

    statuses = []
    async with server, httpx.AsyncClient(transport=httpx.ASGITransport(app=worker), base_url="http://worker") as c:
        for method, path in requests:
            statuses.append((await c.request(method, path, content=b"{}" if method == "POST" else None)).status_code)
    await proxy.close()
    return statuses


def test_a_read_the_leader_dropped_unanswered_is_sent_again_on_a_new_connection():
    assert asyncio.run(_through_proxy([("GET", "/api/v1/summary")] * 3)) == [200, 200, 200]


def test_a_write_the_leader_dropped_is_not_sent_again_and_the_caller_hears_503():
    # the leader may have made it before the connection broke: the caller decides, told to try again
    assert asyncio.run(_through_proxy([("GET", "/api/v1/summary"), ("POST", "/api/v1/orders")])) == [200, 503]


def test_the_worker_lets_go_of_idle_connections_before_the_leader_does():
    async def expiry() -> float | None:
        proxy = LeaderProxy("http://127.0.0.1:9", lambda _a: asyncio.sleep(0), leader_keep_alive_s=5.0)
        try:
            return proxy.client._transport._pool._keepalive_expiry  # type: ignore[attr-defined]
        finally:
            await proxy.close()

    assert asyncio.run(expiry()) == 2.5
