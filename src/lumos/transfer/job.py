"""A ranking as a job the workbench follows, kept: asked again of the same data and the
same models, the answer is the one already computed.

The key of a ranking is the target's content (its dataset fingerprint), each source's name
and the state of its weights file, and the published weights named; a ranking job records
it, and its answer is ``ranking.json`` in its folder. Deleting the job forgets it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import field
from typing import Any, ClassVar

from pydantic.dataclasses import dataclass as validated

from lumos.bundle import WEIGHTS, saved_meta
from lumos.errors import NotFoundError
from lumos.fileio import load_json, write_json_atomic
from lumos.jobs import Job, find_jobs, queue_work, running_job
from lumos.pretrained.init import hub_spec
from lumos.transfer.budget import DEFAULT_BUDGET_TEXT, Budget
from lumos.transfer.rank import classifiers, rank
from lumos.transfer.sample import target_split
from lumos.transfer.scoring import check_source
from lumos.workspace import Workspace

RANKING = "ranking.json"  # in the job's folder


@validated(frozen=True)
class RankJob:
    """:func:`~lumos.transfer.rank.rank` in a worker: ``sources`` (every saved classifier
    when empty) and the published weights ``hub`` names, ranked for dataset ``dataset``."""

    kind: ClassVar[str] = "rank"
    dataset: str
    sources: list[str] = field(default_factory=list)
    hub: list[str] = field(default_factory=list)
    budget: str = DEFAULT_BUDGET_TEXT  # see :meth:`lumos.transfer.budget.Budget.parse`
    key: str = ""  # set when queued: see :func:`ranking_key`

    def run(self, workspace: Workspace, job_id: str) -> None:
        with running_job(workspace, self.kind, {}, job_id) as job:
            ranked = rank(
                self.dataset, self.sources or None, hub=self.hub, workspace=workspace,
                budget=Budget.parse(self.budget), report=job.report_progress,
            )  # fmt: skip
            write_json_atomic(job.folder / RANKING, ranked.as_dict())
            count = len(ranked.sources)
            job.report_progress("ranked", count, count)
            job.record_result({"dataset": self.dataset, "best": ranked.sources[0].source})


def ranking_key(work: RankJob, workspace: Workspace) -> str:
    """What a ranking depends on, as one digest; refuses a request that cannot be ranked
    (the dataset, each source named, their channels, published weights not known)."""
    part = target_split(work.dataset, workspace)
    names = work.sources or classifiers(workspace)
    if not names and not work.hub:
        raise NotFoundError("no saved classifier to rank: save or import one first")
    digest = hashlib.sha256(part.manifest["fingerprint"].encode())
    for name in sorted(names):
        check_source(saved_meta(name, workspace), part)
        weights = (workspace.models_dir / name / WEIGHTS).stat()
        digest.update(f"\n{name} {weights.st_size} {weights.st_mtime_ns}".encode())
    digest.update(json.dumps(sorted(hub_spec(name) for name in work.hub)).encode())
    digest.update(f"\nbudget {Budget.parse(work.budget)}".encode())
    return digest.hexdigest()


def ranking_of(work: RankJob, workspace: Workspace) -> tuple[dict[str, Any] | None, Job | None]:
    """The ranking already made for this request with the data and models as they are now,
    and the job that made it or is making it (None, None: not asked yet)."""
    return _kept(work.dataset, ranking_key(work, workspace), workspace)


def queue_ranking(work: RankJob, workspace: Workspace) -> tuple[dict[str, Any] | None, Job]:
    """The ranking kept for this request, or a queued job that makes it (and the job)."""
    key = ranking_key(work, workspace)
    ranking, job = _kept(work.dataset, key, workspace)
    if job is None:
        job = queue_work(RankJob(work.dataset, work.sources, work.hub, work.budget, key), workspace)
    return ranking, job


def _kept(dataset: str, key: str, workspace: Workspace) -> tuple[dict[str, Any] | None, Job | None]:
    for row in find_jobs(workspace, RankJob.kind, dataset=dataset, key=key):
        job = Job(row["id"], row["kind"], row["state"], {}, workspace.jobs_dir / row["id"])
        if row["state"] in ("queued", "running"):
            return None, job
        if row["state"] == "done" and (job.folder / RANKING).is_file():
            return load_json(job.folder / RANKING, "ranking"), job
    return None, None
