"""The transfer page's API: the saved classifiers ranked for a dataset, and what it refuses."""

from __future__ import annotations

from pathlib import Path

from helpers import api_error, class_folders, colour_folders, workbench_client
from lumos.data import ImportOptions, import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.train import Recipe, train
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
    ranked = client.get("/api/datasets/colours/transfer").json()
    assert "p2l" in ranked["estimators"] and set(ranked["default"]) <= set(ranked["estimators"])
    [row] = ranked["sources"]
    assert row["source"] == "colour-net" and row["network"] == "lenet5"
    assert row["control"]["source"] == "lenet5 from scratch" and row["hurts"] is False
    assert set(row["scores"]) == set(ranked["estimators"])
    page = client.get("/datasets/colours/transfer")
    assert page.status_code == 200 and 'id="transfer-table"' in page.text
    assert client.get("/datasets/nope/transfer").status_code == 404

    assert "no dataset named 'nope'" in api_error(client.get("/api/datasets/nope/transfer"), 404)
    assert "no model named 'ghost'" in api_error(
        client.get("/api/datasets/colours/transfer?sources=colour-net,ghost"), 404
    )
    assert "invalid model name" in api_error(
        client.get("/api/datasets/colours/transfer?sources=../../etc"), 400
    )
    assert "sources" in api_error(
        client.get("/api/datasets/colours/transfer", params={"sources": "a" * 5000}), 422
    )
    one = ImportOptions(allow_one_class=True)
    import_dataset(class_folders(tmp_path / "one", {"cat": 8}), "one", one, workspace=workspace)
    assert "has one class" in api_error(client.get("/api/datasets/one/transfer"), 400)
    grey = ImportOptions(channels=1)
    import_dataset(colour_folders(tmp_path / "grey"), "grey", grey, workspace=workspace)
    assert "import the data with --channels 3" in api_error(
        client.get("/api/datasets/grey/transfer"), 400
    )
