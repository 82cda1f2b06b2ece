"""Transfer: the saved classifiers ranked as starting points for a dataset, as a job whose
answer is kept until the data or the models change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from lumos.transfer.budget import DEFAULT_BUDGET_TEXT
from lumos.transfer.job import RankJob, queue_ranking, ranking_of
from lumos.web.api.common import settings_of, state_of
from lumos.web.api.jobs import job_row, queued_row

router = APIRouter()


@router.get("/datasets/{name}/transfer")
def dataset_transfer(
    request: Request,
    name: str,
    sources: Annotated[str, Query(max_length=4000)] = "",
    hub: Annotated[str, Query(max_length=4000)] = "",
    budget: Annotated[str, Query(max_length=40)] = DEFAULT_BUDGET_TEXT,
) -> dict[str, Any]:
    """The ranking already made for dataset ``name`` of ``sources`` (comma-separated; every
    saved classifier when empty) and the published weights ``hub`` names, within
    ``budget`` (10%, 30 seconds, none), with the data and models as they are now, and the
    job that made it or is making it; nulls when it was not asked for."""
    work = _request(name, sources, hub, budget)
    ranking, job = ranking_of(work, settings_of(request).workspace)
    return {"ranking": ranking, "job": job_row(state_of(request), job.id) if job else None}


@router.post("/datasets/{name}/transfer", status_code=202)
def dataset_rank(
    request: Request,
    response: Response,
    name: str,
    sources: Annotated[str, Query(max_length=4000)] = "",
    hub: Annotated[str, Query(max_length=4000)] = "",
    budget: Annotated[str, Query(max_length=40)] = DEFAULT_BUDGET_TEXT,
) -> dict[str, Any]:
    """Rank them: the ranking kept (200) when nothing changed since, else a queued job (202)
    whose ``ranking.json`` the GET above answers once it is done. Each source is best
    first with its estimators, its rank interval, its from-scratch control and whether it
    does no better; beside them the images scored and whether the answer is stable."""
    work = _request(name, sources, hub, budget)
    ranking, job = queue_ranking(work, settings_of(request).workspace)
    if ranking is not None:
        response.status_code = 200
        return {"ranking": ranking, "job": job_row(state_of(request), job.id)}
    return {"ranking": None, "job": queued_row(request, job.id)}


def _request(name: str, sources: str, hub: str, budget: str) -> RankJob:
    def listed(text: str) -> list[str]:
        return [s.strip() for s in text.split(",") if s.strip()]

    return RankJob(name, listed(sources), listed(hub), budget)
