"""``lumos ui``: serve the workbench with Uvicorn, safely by default.

The server binds 127.0.0.1; any other address needs a token (:mod:`lumos.access`), which
every request must then carry (a browser gets it once through ``?token=`` and keeps it in a
cookie).
"""

from __future__ import annotations

import uvicorn

from lumos.web.app import create_app
from lumos.web.settings import WebSettings


def serve(settings: WebSettings, host: str = "127.0.0.1", port: int = 5000) -> None:
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
