"""The browser-facing headers on every HTTP answer of the service (the console's files, the API, the refusals):
what a browser may load and run for the console, that no other site may frame it, and that no answer is read as
another type than it says.

The console is the service's own files only (docs/console.md: no build step, nothing fetched from outside), so its
policy allows nothing but the service's own scripts, styles, images and connections (the stream's WebSocket
included): an injected ``<script>`` or inline handler does not run. FastAPI's OpenAPI pages (``/docs``,
``/redoc``) load Swagger UI and ReDoc from a CDN with an inline script: they get only the framing and plugin
rules.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The console's and the API's policy: the service's own files, nothing inline, framed by no one.
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: FastAPI's OpenAPI pages (their scripts and styles come from a CDN, one script inline).
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
DOCS_POLICY = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def _headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


_CONSOLE_HEADERS, _DOCS_HEADERS = _headers(CONSOLE_POLICY), _headers(DOCS_POLICY)
_OURS = frozenset(name for name, _ in _CONSOLE_HEADERS)


class SecurityHeaders:
    """ASGI middleware: sets the headers above on every HTTP answer, in place of any the app gave (a read worker
    passes on the leader's answers, headers and all: each once, not twice)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = _DOCS_HEADERS if scope["path"] in DOCS_PATHS else _CONSOLE_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in _OURS]
                message = {**message, "headers": kept + ours}
            await send(message)

        await self.app(scope, receive, send_with_headers)
