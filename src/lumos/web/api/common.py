"""What every API module uses: the server state of a request, uploads, PNG answers."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from fastapi import Request
from PIL import Image

from lumos.label import LabelProject
from lumos.web.settings import WebSettings
from lumos.web.state import ServerState


def state_of(request: Request) -> ServerState:
    return request.app.state.lumos


def settings_of(request: Request) -> WebSettings:
    return state_of(request).settings


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def uploads_dir(settings: WebSettings) -> Path:
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    return settings.uploads_dir


def project_of(request: Request, name: str) -> LabelProject:
    """Label project ``name`` of the server's workspace."""
    return LabelProject.open(name, settings_of(request).workspace)
