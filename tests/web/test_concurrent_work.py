"""Four saves and two rankings asked at once, then run at once in one process (the rankings
share the planner's measured speeds, written once for both): four models, two rankings, no
answer of 500 or more."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from helpers import colour_folders, workbench_client
from lumos.data import import_dataset
from lumos.deploy import Bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.train import Recipe, train
from lumos.worker import run_job
from lumos.workspace import Workspace


def test_four_saves_and_two_rankings_at_once(workspace: Workspace, tmp_path: Path) -> None:
    source = colour_folders(tmp_path / "colours")
    for name in ("colours", "colours-again"):
        import_dataset(source, name, workspace=workspace)
    recipe = Recipe(dataset="colours", network="lenet5", epochs=2, batch_size=4, lr=0.05,
                    workers=0, precision="fp32")  # fmt: skip
    job = train(recipe, workspace=workspace, progress=False)
    bundle_from_job(job.id, "base", workspace=workspace)
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    asks = [
        *(lambda i=i: client.post("/api/models", json={"job": job.id, "name": f"m{i}"})
          for i in range(4)),
        *(lambda d=d: client.post(f"/api/datasets/{d}/transfer?sources=base")
          for d in ("colours", "colours-again")),
    ]  # fmt: skip
    with ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(lambda ask: ask(), asks))
    assert [a.status_code for a in answers] == [202] * 6, [a.text for a in answers]
    jobs = [a.json().get("job", a.json())["id"] for a in answers]
    with ThreadPoolExecutor(len(jobs)) as pool:
        assert list(pool.map(lambda j: run_job(workspace, j), jobs)) == [0] * 6
    base = Bundle.saved("base", workspace).weights
    for i in range(4):  # each save is the job's weights, whole
        saved = Bundle.saved(f"m{i}", workspace).weights
        assert all(torch.equal(saved[k], base[k]) for k in base)
    speeds = json.loads((workspace.root / "plan" / "efficiency.json").read_text())
    assert len(speeds) == 1  # lenet5 at 16x16 on this machine, measured for both
    for dataset in ("colours", "colours-again"):
        ranking = client.get(f"/api/datasets/{dataset}/transfer?sources=base").json()["ranking"]
        assert [row["source"] for row in ranking["sources"]] == ["base"]
