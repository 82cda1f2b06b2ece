"""Triton's model repository extension on ``lumos serve``: list, load and unload models
while the server runs.

``POST /v2/repository/index`` lists the served models (``READY``) and those the server
could load (``UNAVAILABLE``, reason ``unloaded``); ``POST /v2/repository/models/NAME/load``
(re)loads a saved model of the workspace with its own batcher, and ``.../unload`` answers
what is queued for it, then drops it. Loading and unloading change the server, so a request
that a browser sent (it carries ``Origin``) is refused: a page on another site must not
steer a server on this machine.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lumos.deploy.repository import ModelRepository, NotServedError, ServeError
from lumos.errors import LumosError


def repository_routes(repository: ModelRepository) -> APIRouter:
    router = APIRouter(prefix="/repository")

    @router.post("/index")
    async def index(request: Request) -> JSONResponse:
        ready_only = bool((await _options(request)).get("ready"))
        models = [m for m in repository.index() if m["state"] == "READY" or not ready_only]
        return JSONResponse(models)

    @router.post("/models/{model}/load")
    async def load(model: str, request: Request) -> JSONResponse:
        _refuse_browsers(request, model)
        await _options(request)
        try:
            await repository.load(model)
        except LumosError as e:
            raise ServeError(400, f"failed to load {model!r}: {e}", model) from None
        return JSONResponse({})

    @router.post("/models/{model}/unload")
    async def unload(model: str, request: Request) -> JSONResponse:
        _refuse_browsers(request, model)
        await _options(request)
        try:
            repository.unload(model)
        except NotServedError as e:
            raise ServeError(400, str(e), model) from None
        return JSONResponse({})

    return router


def _refuse_browsers(request: Request, model: str) -> None:
    if "origin" in request.headers:
        raise ServeError(
            403, "loading and unloading are refused to browsers (the request has an Origin)",
            model,
        )  # fmt: skip


async def _options(request: Request) -> dict[str, Any]:
    """The request's JSON object, if it sent one (the protocol's bodies are optional)."""
    body = await request.body()
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ServeError(400, "the request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise ServeError(400, "the request body must be a JSON object")
    return document
