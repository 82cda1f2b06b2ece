"""Who may talk to a lumos HTTP server: loopback by default, a token for anything else.

Shared by the workbench (``lumos ui``) and the inference server (``lumos serve``). With a
token, every request must carry it: ``Authorization: Bearer T``, the cookie that a first
visit with ``?token=T`` sets, or that query parameter itself.
"""

from __future__ import annotations

import os
import secrets

from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import JSONResponse, Response

from lumos.errors import LumosError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_COOKIE = "lumos_token"
MIN_TOKEN = 16


class ServerError(LumosError):
    """The server cannot start as asked."""


def check_exposure(host: str, token: str | None) -> str | None:
    """The token to require: ``token`` or ``LUMOS_TOKEN``; refuses a public host without one."""
    token = token or os.environ.get("LUMOS_TOKEN") or None
    if host not in LOOPBACK and not token:
        raise ServerError(
            f"--host {host} lets other machines in: give --token (or set LUMOS_TOKEN) "
            "so that every request must carry it"
        )
    if token is not None and (len(token) < MIN_TOKEN or any(c.isspace() for c in token)):
        raise ServerError(f"the token must be at least {MIN_TOKEN} characters long, without spaces")
    return token


class TokenMiddleware(BaseHTTPMiddleware):
    """Answers 401 to every request that does not carry the token."""

    def __init__(self, app: object, token: str) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        header = request.headers.get("authorization", "")
        offered = [
            header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else "",
            request.cookies.get(TOKEN_COOKIE, ""),
            request.query_params.get("token", ""),
        ]
        if not any(o and secrets.compare_digest(o, self.token) for o in offered):
            return JSONResponse(
                {"error": "this lumos server needs its access token (?token=T or a Bearer header)"},
                status_code=401,
            )
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        return response
