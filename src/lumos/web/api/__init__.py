"""The REST API under ``/api/``: everything the pages do, for scripts too (see ``/docs``).

Each route calls the library and turns its answer into JSON; errors become JSON with one
``error`` line (404 for a missing entry, 400 for a bad request, 413 for an oversized upload).
"""

from __future__ import annotations

from fastapi import APIRouter

from lumos.web.api import (
    datasets,
    jobs,
    label,
    labelling,
    models,
    plan,
    sweeps,
    training,
    transfer,
    trying,
)

router = APIRouter(prefix="/api")
for module in (datasets, jobs, training, models, transfer, plan, sweeps, label, labelling, trying):
    router.include_router(module.router)
