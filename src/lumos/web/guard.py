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

from starlette.datastructures import Headers

from lumos.web.headers import SECURITY_HEADERS, cross_site, headers_for, host_name

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _BodyTooLargeError(Exception):
    """A chunked body went past the cap while the app was reading it."""


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
                message["headers"] = [*message.get("headers", []), *headers_for(scope)]
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
            problem = cross_site(headers, scope.get("scheme", "http"), host)
            if problem:
                return 403, problem
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return 413, self._too_large()
        return None

    def _too_large(self) -> str:
        return f"request body larger than this server accepts ({self.max_body:,} bytes)"


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
