"""The sweeps' API and page: a sweep started as a job, a study's trials, best, importance and
plots; what is missing or refused."""

from __future__ import annotations

from pathlib import Path

from helpers import api_error, workbench_client
from lumos.data import import_dataset
from lumos.recipe import Recipe
from lumos.sweep import create_sweep, work_on
from lumos.worker import run_job
from lumos.workspace import Workspace


def test_a_sweep_through_the_api_and_its_page(workspace: Workspace, tmp_path: Path) -> None:
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    assert client.get("/api/sweeps").json() == []
    assert "no sweep named 'nope'" in api_error(client.get("/api/sweeps/nope"), 404)
    assert not (workspace.root / "sweeps.db").exists()  # asking made nothing
    import_dataset("sample:digits", "digits", workspace=workspace, max_per_class=12)
    recipe = Recipe(dataset="digits", network="lenet5", epochs=1, batch_size=16, workers=0,
                    precision="fp32", checkpoint_minutes=0)  # fmt: skip
    sweep = create_sweep(recipe, ["lr=log:1e-3:0.3", "batch_size=8,16"], name="tiny", trials=3,
                         sampler="random", workspace=workspace)  # fmt: skip
    work_on(sweep, workspace, seed=0)
    [listed] = client.get("/api/sweeps").json()
    assert listed["name"] == "tiny" and listed["finished"] == 3 and listed["trials"] == 3
    found = client.get("/api/sweeps/tiny").json()
    assert found["params"] == ["lr=log:0.001:0.3", "batch_size=8,16"]
    assert [t["number"] for t in found["trials"]] == [0, 1, 2]
    assert found["best"]["value"] == max(t["value"] for t in found["trials"])
    assert set(found["importance"]) <= {"lr", "batch_size"}
    for url in found["pictures"]:
        picture = client.get(url)
        assert picture.status_code == 200 and picture.content[:4] == b"\x89PNG"
    assert "/api/sweeps/tiny/parallel.png" in found["pictures"]
    page = client.get("/sweeps/tiny")
    assert page.status_code == 200 and 'id="sweep-trials"' in page.text
    assert client.get("/sweeps/nope").status_code == 404
    assert client.get("/sweeps/..%2F..").status_code == 404
    assert "no picture 'trials.csv'" in api_error(client.get("/api/sweeps/tiny/trials.csv"), 404)
    assert "invalid sweep name" in api_error(client.get("/api/sweeps/a b"), 400)


def test_a_sweep_started_from_the_web_runs_as_a_job(workspace: Workspace, tmp_path: Path) -> None:
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    import_dataset("sample:digits", "digits", workspace=workspace, max_per_class=12)
    base = {"dataset": "digits", "network": "lenet5", "epochs": 1, "batch_size": 16,
            "workers": 0, "precision": "fp32", "checkpoint_minutes": 0}  # fmt: skip
    body = {"recipe": base, "params": ["lr=log:1e-3:0.3"], "trials": 2, "sampler": "random",
            "name": "from-web"}  # fmt: skip
    started = client.post("/api/sweeps", json=body)
    assert started.status_code == 202, started.text
    job = started.json()["job"]
    assert started.json()["sweep"] == "from-web" and job["title"] == "sweep from-web"
    assert client.get("/api/sweeps/from-web").json()["trials"] == []  # queued: no trial yet
    assert run_job(workspace, job["id"]) == 0
    done = client.get(f"/api/jobs/{job['id']}").json()
    assert done["result"]["sweep"] == "from-web" and done["result"]["trials"] == 2
    assert done["progress"] == {"stage": "trials", "done": 2, "total": 2}
    found = client.get("/api/sweeps/from-web").json()
    assert [t["state"] for t in found["trials"]] == ["complete", "complete"]
    assert client.get("/sweeps").status_code == 200

    def start(**change):
        return client.post("/api/sweeps", json=body | {"name": "other"} | change)

    assert "already in" in api_error(client.post("/api/sweeps", json=body), 400)
    assert "'lrr' is not a recipe field" in api_error(start(params=["lrr=log:1e-3:0.3"]), 400)
    assert "params" in api_error(start(params=[]), 422)
    assert "sampler" in api_error(start(sampler="bayes"), 422)
    assert "trials" in api_error(start(trials=0), 422)
    assert "invalid sweep name" in api_error(start(name="../x"), 400)
    assert "no dataset named 'nope'" in api_error(start(recipe=base | {"dataset": "nope"}), 404)
    python = base | {"network": "/tmp/net.py"}
    assert "Python networks cannot be trained from the web" in api_error(start(recipe=python), 400)
    assert "either recipe fields or recipe YAML" in api_error(start(recipe=None), 400)
    assert [s["name"] for s in client.get("/api/sweeps").json()] == ["from-web"]
