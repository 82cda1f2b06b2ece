"""``lumos ui``: serve the workbench with Uvicorn, safely by default.

The server binds 127.0.0.1; any other address needs a token, which every request must then
carry (a browser gets it once through ``?token=`` and keeps it in a cookie).
"""

from __future__ import annotations

import os

import uvicorn

from lumos.errors import LumosError
from lumos.web.app import create_app
from lumos.web.settings import LOOPBACK, WebSettings


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
    if token is not None and len(token) < 16:
        raise ServerError("the token must be at least 16 characters long")
    return token


def serve(settings: WebSettings, host: str = "127.0.0.1", port: int = 5000) -> None:
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
