"""The workbench as an ASGI app: REST API, pages, static files, the job runner.

``create_app(settings)`` is what ``lumos ui`` serves and what the tests drive.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import plotly
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from lumos import __version__
from lumos.access import TokenMiddleware
from lumos.errors import LumosError, NotFoundError
from lumos.label import ConflictError
from lumos.runner import JobRunner
from lumos.web import api, pages
from lumos.web.guard import RequestGuard
from lumos.web.security import UploadTooLargeError
from lumos.web.settings import WebSettings
from lumos.web.state import ServerState

STATIC = Path(__file__).parent / "static"
FAVICON_URL = "/static/favicon.svg"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
log = logging.getLogger("lumos.web")


def create_app(settings: WebSettings) -> FastAPI:
    runner = (
        JobRunner(settings.workspace, max_training=settings.max_training_jobs)
        if settings.run_jobs
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        yield
        if runner is not None:
            runner.stop()

    # The API docs (/docs) with their scripts served from an installed package: the CDN that
    # FastAPI loads them from by default is not there offline. No /redoc: its viewer fetches
    # a logo from its CDN whatever it is told.
    app = FastAPIOffline(
        title="lumos",
        favicon_url=FAVICON_URL,
        redoc_url=None,
        version=__version__,
        description="The lumos workbench API: datasets, training jobs, models.",
        lifespan=lifespan,
    )
    app.state.lumos = ServerState(settings)
    app.state.runner = runner
    if settings.token:
        app.add_middleware(TokenMiddleware, token=settings.token)
    # Added last, so outermost: a request from another site or host is refused first.
    app.add_middleware(
        RequestGuard, hosts=settings.accepted_hosts, max_body=settings.max_request_bytes
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    _add_error_handlers(app)
    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, e: NotFoundError) -> JSONResponse:
        return _error(404, str(e))

    @app.exception_handler(UploadTooLargeError)
    async def too_large(request: Request, e: UploadTooLargeError) -> JSONResponse:
        return _error(413, str(e))

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, e: ConflictError) -> JSONResponse:
        return JSONResponse({"error": str(e), "current": e.current}, status_code=409)

    @app.exception_handler(LumosError)
    async def bad_request(request: Request, e: LumosError) -> JSONResponse:
        return _error(400, str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body")
        return _error(422, f"{where}: {first['msg']}" if where else str(first["msg"]))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def crashed(request: Request, e: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(e).__name__}); the server log has details")
