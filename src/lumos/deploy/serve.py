"""``lumos serve``: models behind HTTP, each with dynamic batching.

One server holds one or more models (:class:`~lumos.deploy.repository.ModelRepository`),
each with its own batcher (:mod:`lumos.deploy.batcher`). ``POST /v1/models/NAME/predict``
(or ``/v1/predict`` when one model is served) answers images with the model's results:
classes, boxes in the image's pixels, or a mask. ``/health`` says the process is up,
``/ready`` that every model is loaded and its batcher running, ``/metrics`` gives request
counts, latencies, batch sizes and queue depths per model in Prometheus' text format. The
Open Inference Protocol (KServe v2) is spoken beside these routes
(:mod:`lumos.deploy.open_inference`). On shutdown the server stops taking connections and
answers every request already queued.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from lumos.access import TokenMiddleware
from lumos.deploy.batcher import QueueFullError
from lumos.deploy.open_inference import v2_routes
from lumos.deploy.repository import (
    Loader,
    ModelRepository,
    ServedModel,
    ServeError,
    ServeMetrics,
    ServeSettings,
)
from lumos.deploy.runtime import Predictor
from lumos.deploy.uploads import images_of
from lumos.errors import DataError

__all__ = ["ServeSettings", "create_server", "serve"]
SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005


def create_server(
    predictors: Predictor | Sequence[Predictor],
    settings: ServeSettings | None = None,
    *,
    loader: Loader | None = None,
) -> FastAPI:
    """The inference app for ``predictors`` (``loader`` loads more by name while it runs);
    the batchers start and stop with the app."""
    settings = settings or ServeSettings()
    metrics = ServeMetrics()
    repository = ModelRepository(settings, metrics, loader)
    for predictor in [predictors] if isinstance(predictors, Predictor) else predictors:
        repository.add(predictor)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        repository.start()
        yield
        repository.stop()

    app = FastAPI(title=f"lumos serve: {', '.join(repository.models)}", lifespan=lifespan)
    if settings.token:
        app.add_middleware(TokenMiddleware, token=settings.token)
    app.state.repository = repository
    app.include_router(_status_routes(repository))
    app.include_router(_predict_routes(repository))
    app.include_router(v2_routes(repository))
    _answer_errors(app, repository)
    return app


def _answer_errors(app: FastAPI, repository: ModelRepository) -> None:
    """Every failure as ``{"error": one line}`` with its status, counted like the rest."""
    counted = repository.metrics.requests

    def error(status: int, message: str, model: str = "", **headers: str) -> JSONResponse:
        counted.labels(model, str(status)).inc()
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    @app.exception_handler(Exception)
    async def failure(_: Request, e: Exception) -> JSONResponse:
        logging.getLogger("lumos.serve").exception("prediction failed")
        return error(500, f"prediction failed: {e}"[:500])

    @app.exception_handler(StarletteHTTPException)
    async def no_route(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return error(e.status_code, str(e.detail))

    @app.exception_handler(ServeError)
    async def refused(_: Request, e: ServeError) -> JSONResponse:
        return error(e.status, e.message, e.model)

    @app.exception_handler(QueueFullError)
    async def busy(_: Request, e: QueueFullError) -> JSONResponse:
        message = f"the server is busy ({repository.settings.max_queue} images queued); retry"
        return error(429, message, **{"Retry-After": "1"})


def _status_routes(repository: ModelRepository) -> APIRouter:
    """Health, readiness, Prometheus metrics and the models' descriptions."""
    router = APIRouter()

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready")
    def ready() -> JSONResponse:
        models = {name: m.batcher.running for name, m in repository.models.items()}
        body: dict[str, Any] = {"ready": repository.ready, "models": models}
        if len(repository.models) == 1:
            only = next(iter(repository.models.values()))
            body |= {"model": only.name, "backend": only.predictor.backend}
        return JSONResponse(body, status_code=200 if repository.ready else 503)

    @router.get("/metrics")
    def prometheus() -> Response:
        return Response(
            generate_latest(repository.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    @router.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"models": [repository.describe(m) for m in repository.models.values()]}

    @router.get("/v1/model")
    def only_model() -> dict[str, Any]:
        return repository.describe(repository.only())

    @router.get("/v1/models/{name}")
    def model(name: str) -> dict[str, Any]:
        return repository.describe(repository.get(name))

    return router


def _predict_routes(repository: ModelRepository) -> APIRouter:
    """``POST /v1/models/NAME/predict`` (and ``/v1/predict`` for the only model): images in
    (multipart or base64 JSON), the model's answers out, through its batcher; every answer
    counted and timed."""
    router, settings, metrics = APIRouter(), repository.settings, repository.metrics

    async def answers(model: ServedModel, request: Request, top: int | None) -> JSONResponse:
        if top is not None and top < 1:
            raise ServeError(422, "top must be at least 1")
        files = await images_of(request, settings.max_body_bytes)
        k = min(top or settings.top, len(model.bundle.labels))
        found = await model.from_files(files, k)
        return JSONResponse({"model": model.name, "predictions": [r.served() for r in found]})

    async def predict(model: ServedModel, request: Request, top: int | None) -> JSONResponse:
        started = time.perf_counter()
        try:
            response = await answers(model, request, top)
        except ServeError as e:
            response = JSONResponse({"error": e.message}, status_code=e.status)
        except DataError as e:
            response = JSONResponse({"error": str(e)}, status_code=400)
        except QueueFullError:
            response = JSONResponse(
                {"error": f"the server is busy ({settings.max_queue} images queued); retry"},
                status_code=429,
                headers={"Retry-After": "1"},
            )
        metrics.requests.labels(model.name, str(response.status_code)).inc()
        metrics.latency.labels(model.name).observe(time.perf_counter() - started)
        return response

    @router.post("/v1/predict")
    async def predict_only(request: Request, top: int | None = None) -> JSONResponse:
        return await predict(repository.only(), request, top)

    @router.post("/v1/models/{name}/predict")
    async def predict_named(name: str, request: Request, top: int | None = None) -> JSONResponse:
        return await predict(repository.get(name), request, top)

    return router


def serve(
    predictors: Sequence[Predictor],
    settings: ServeSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    loader: Loader | None = None,
    grace_seconds: int = 30,
) -> None:
    """Run the server until SIGINT/SIGTERM; requests in flight are answered before it ends."""
    import sys

    import uvicorn

    # The batcher thread takes the GIL back after every PyTorch operator; with the default
    # 5 ms switch interval, request threads holding it make an eager forward wait ~1 ms per
    # operator (measured: ResNet-18 at 64x64, batch 1, 70 ms instead of 8 ms).
    sys.setswitchinterval(SWITCH_INTERVAL)

    uvicorn.run(
        create_server(predictors, settings, loader=loader),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=grace_seconds,
    )
