"""The sweeps' API and page: a study's trials, best, importance and plots; what is missing."""

from __future__ import annotations

from pathlib import Path

from helpers import api_error, workbench_client
from lumos.data import import_dataset
from lumos.recipe import Recipe
from lumos.sweep import create_sweep, work_on
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
