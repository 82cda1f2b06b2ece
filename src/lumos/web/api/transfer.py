"""Transfer: the saved classifiers ranked as starting points for a dataset."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from lumos.transfer.rank import CONTROL, DEFAULT, ESTIMATORS, rank
from lumos.web.api.common import settings_of

router = APIRouter()


@router.get("/datasets/{name}/transfer")
def dataset_transfer(
    request: Request,
    name: str,
    sources: Annotated[str | None, Query(max_length=4000)] = None,
    hub: Annotated[str, Query(max_length=4000)] = "",
) -> dict[str, Any]:
    """Every saved classifier (or ``sources``, comma-separated) and the published weights
    ``hub`` names (comma-separated, pulled first) ranked for dataset ``name``, best first,
    each with its estimators, its from-scratch control and whether it scores no better
    than that control."""
    names = [s.strip() for s in sources.split(",") if s.strip()] if sources else None
    pulled = [s.strip() for s in hub.split(",") if s.strip()]
    ranked = rank(name, names, hub=pulled, workspace=settings_of(request).workspace)
    return {
        "estimators": [*ESTIMATORS, "p2l"],
        "default": list(DEFAULT),
        "control": list(CONTROL),
        "sources": [s.as_dict() for s in ranked],
    }
