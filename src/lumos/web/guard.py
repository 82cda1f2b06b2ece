"""The workbench's front door: checks every request before the app sees it.

Loopback is not a wall. A page on another origin can post to ``127.0.0.1`` (a form, or a
no-cors ``fetch``), and DNS rebinding can make a foreign name resolve to it. So:

- every request's ``Host`` must be one of the names the server was started for (loopback
  names, ``--host``, ``--allowed-host``); a server bound to every address with a token and
  no ``--allowed-host`` accepts any name, since the token already keeps strangers out;
- a state-changing request (not GET/HEAD/OPTIONS) whose ``Origin`` (or, without one,
  ``Referer``) is not the server's own origin is refused, and so is a form-type post that
  carries neither and lacks the ``X-Lumos-Request`` header the workbench's pages send;
- a body is refused by its declared ``Content-Length`` before it is read, and a chunked one
  is cut off at the cap;
- every answer forbids framing and carries a content security policy.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MARKER = "x-lumos-request"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'{scripts}; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's API documentation page starts its viewer with an inline script.
_DOCS_PATHS = ("/docs",)
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class _BodyTooLargeError(Exception):
    """A chunked body went past the cap while the app was reading it."""


def host_name(host: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:5000`` -> ``::1``, ``a.b:80`` -> ``a.b``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    """ASGI middleware enforcing the checks above; ``hosts`` None accepts any name."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str] | None, max_body: int) -> None:
        self.app, self.hosts, self.max_body = app, hosts, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        started = exceeded = False

        async def send_guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # the app's answer to a body it could not read: ours instead
                    await _answer(send, 413, self._too_large())
                    return
                message["headers"] = [*message.get("headers", []), *_headers_for(scope)]
            if not exceeded:
                await send(message)

        received = 0

        async def receive_capped() -> Message:
            nonlocal received, exceeded
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                exceeded = True
                raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, receive_capped, send_guarded)
        except _BodyTooLargeError:
            if not started:
                await _answer(send, 413, self._too_large())

    def _refusal(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            return 400, (
                f"host {host_name(host)!r} is not served here: start lumos ui with "
                "--allowed-host NAME to accept it"
            )
        if scope["method"] not in SAFE_METHODS:
            problem = _cross_site(headers, scope.get("scheme", "http"), host)
            if problem:
                return 403, problem
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return 413, self._too_large()
        return None

    def _too_large(self) -> str:
        return f"request body larger than this server accepts ({self.max_body:,} bytes)"


def _cross_site(headers: Headers, scheme: str, host: str) -> str | None:
    """Why a state-changing request may come from another site; None if it does not."""
    own = f"{scheme}://{host}".lower()
    for name in ("origin", "referer"):
        value = headers.get(name)
        if value is None:
            continue
        parts = urlsplit(value.strip())
        if f"{parts.scheme}://{parts.netloc}".lower() != own:
            return f"cross-site request refused ({name} {value.strip()!r} is not {own})"
        return None
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES and MARKER not in headers:
        return f"a form post needs the {MARKER} header (cross-site forms are refused)"
    return None


def _headers(scripts: str) -> list[tuple[bytes, bytes]]:
    policy = _POLICY.format(scripts=scripts).encode()
    return [*SECURITY_HEADERS, (b"content-security-policy", policy)]


_PAGE_HEADERS, _DOCS_HEADERS = _headers(""), _headers(" 'unsafe-inline'")


def _headers_for(scope: Scope) -> list[tuple[bytes, bytes]]:
    return _DOCS_HEADERS if scope.get("path", "").startswith(_DOCS_PATHS) else _PAGE_HEADERS


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
