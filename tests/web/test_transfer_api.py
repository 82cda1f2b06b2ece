"""The transfer page's API: the saved classifiers ranked for a dataset as a job whose answer
is kept until the data or the models change, and what it refuses."""

from __future__ import annotations

from pathlib import Path

from helpers import api_error, class_folders, colour_folders, workbench_client
from lumos.data import Dataset, ImportOptions, import_dataset
from lumos.deploy import Bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.train import Recipe, train
from lumos.worker import run_job
from lumos.workspace import Workspace


def test_rank_the_store_for_a_dataset_and_refuse_what_cannot_be_ranked(
    workspace: Workspace, tmp_path: Path
) -> None:
    import_dataset(colour_folders(tmp_path / "colours"), "colours", workspace=workspace)
    recipe = Recipe(dataset="colours", network="lenet5", epochs=3, batch_size=4, lr=0.05,
                    workers=0, precision="fp32")  # fmt: skip
    bundle_from_job(train(recipe, workspace=workspace, progress=False).id, "colour-net",
                    workspace=workspace)  # fmt: skip
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    url = "/api/datasets/colours/transfer"
    assert client.get(url).json() == {"ranking": None, "job": None}  # nothing asked yet
    asked = client.post(url)
    assert asked.status_code == 202 and asked.json()["ranking"] is None
    job = asked.json()["job"]
    assert job["title"] == "rank models for colours" and job["state"] == "queued"
    assert client.post(url).json()["job"]["id"] == job["id"]  # asked twice: one job
    assert run_job(workspace, job["id"]) == 0
    kept = client.post(url)  # nothing changed: the answer at once, no new job
    assert kept.status_code == 200 and kept.json()["job"]["id"] == job["id"]
    ranked = kept.json()["ranking"]
    assert client.get(url).json()["ranking"] == ranked
    assert client.get(f"/api/jobs/{job['id']}").json()["result"] == {
        "dataset": "colours", "best": "colour-net"
    }  # fmt: skip
    assert set(ranked["default"]) <= set(ranked["estimators"])
    assert ranked["budget"] == "10% of the fine-tuning run"
    training = len(Dataset.open("colours", workspace).split("train"))
    assert ranked["images"] == training  # fewer than the floor of ten a class: all of them
    [row] = ranked["sources"]
    assert row["source"] == "colour-net" and row["network"] == "lenet5"
    assert row["control"]["source"] == "lenet5 from scratch" and row["hurts"] is False
    assert set(row["scores"]) == set(ranked["estimators"]) and row["interval"] == [1, 1]
    # Another budget is another ranking: a job of its own
    assert client.get(url, params={"budget": "none"}).json() == {"ranking": None, "job": None}
    unbounded = client.post(url, params={"budget": "none"}).json()["job"]
    assert unbounded["id"] != job["id"] and run_job(workspace, unbounded["id"]) == 0
    answer = client.get(url, params={"budget": "none"})
    assert answer.status_code == 200 and answer.json()["ranking"]["allowed_seconds"] is None
    page = client.get("/datasets/colours/transfer")
    assert page.status_code == 200 and 'id="transfer-table"' in page.text
    assert client.get("/datasets/nope/transfer").status_code == 404

    # A model saved again is another source: the kept answer no longer holds.
    bundle_from_job(Bundle.saved("colour-net", workspace).meta.provenance["job"], "colour-net",
                    workspace=workspace, overwrite=True)  # fmt: skip
    assert client.get(url).json() == {"ranking": None, "job": None}

    for ask in (client.get, client.post):
        assert "no dataset named 'nope'" in api_error(ask("/api/datasets/nope/transfer"), 404)
        assert "no model named 'ghost'" in api_error(ask(f"{url}?sources=colour-net,ghost"), 404)
        assert "invalid model name" in api_error(ask(f"{url}?sources=../../etc"), 400)
        assert "sources" in api_error(ask(url, params={"sources": "a" * 5000}), 422)
        assert "budget 'soon': give seconds" in api_error(ask(url, params={"budget": "soon"}), 400)
        assert "budget '-3'" in api_error(ask(url, params={"budget": "-3"}), 400)
        assert "budget" in api_error(ask(url, params={"budget": "9" * 50}), 422)
    broken = workspace.models_dir / "broken"
    broken.mkdir()
    (broken / "bundle.json").write_text("{not json")
    assert "broken: not a bundle" in api_error(client.post(f"{url}?sources=broken"), 400)
    one = ImportOptions(allow_one_class=True)
    import_dataset(class_folders(tmp_path / "one", {"cat": 8}), "one", one, workspace=workspace)
    assert "has one class" in api_error(client.post("/api/datasets/one/transfer"), 400)
    grey = ImportOptions(channels=1)
    import_dataset(colour_folders(tmp_path / "grey"), "grey", grey, workspace=workspace)
    assert "import the data with --channels 3" in api_error(
        client.post("/api/datasets/grey/transfer"), 400
    )
    # the two asked for (10% and none), none for what was refused
    assert [j["kind"] for j in client.get("/api/jobs").json()].count("rank") == 2
