"""Ranking the store's classifiers for a target dataset, and what it refuses."""

from __future__ import annotations

import json

import pytest

from helpers import class_folders, colour_folders, run_cli
from lumos.bundle import Bundle, save_bundle
from lumos.data import ImportOptions, import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.errors import DataError, NotFoundError
from lumos.train import Recipe, train
from lumos.transfer.rank import ESTIMATORS, rank
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Colours to rank for; a LeNet trained on them and the same network untrained."""
    root = tmp_path_factory.mktemp("rank")
    workspace = Workspace(root / "ws").ensure()
    import_dataset(colour_folders(root / "colours", per_class=16), "colours", workspace=workspace)
    recipe = Recipe(dataset="colours", network="lenet5", epochs=4, batch_size=8, lr=0.05,
                    workers=0, precision="fp32")  # fmt: skip
    bundle_from_job(
        train(recipe, workspace=workspace, progress=False).id, "trained", workspace=workspace
    )
    trained = Bundle.load("trained", workspace)
    untrained = Bundle.untrained(trained.spec)
    meta = trained.meta.as_json() | {"provenance": {}, "metrics": {}}
    save_bundle("untrained", meta=meta, weights=untrained.weights, workspace=workspace)
    return workspace


def test_sources_come_best_first_with_every_estimator(store: Workspace) -> None:
    ranked = rank("colours", workspace=store)
    assert {s.source for s in ranked} == {"trained", "untrained"}
    assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)
    for entry in ranked:
        assert set(entry.scores) == set(ESTIMATORS) and entry.seconds > 0
    by_name = {s.source: s for s in ranked}
    assert by_name["trained"].scores["knn"] >= by_name["untrained"].scores["knn"]


def test_rank_from_the_command_line_and_what_it_refuses(
    store: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(store.root))
    code, out, err = run_cli(monkeypatch, capsys, "transfer", "rank", "colours", "--json")
    assert code == 0, err
    assert {row["source"] for row in json.loads(out)} == {"trained", "untrained"}
    code, _, err = run_cli(monkeypatch, capsys, "transfer", "rank", "colours", "--sources", "nope")
    assert code == 2 and "no model named 'nope'" in err
    options = ImportOptions(channels=1)
    import_dataset(colour_folders(store.root / "grey"), "grey", options, workspace=store)
    code, _, err = run_cli(monkeypatch, capsys, "transfer", "rank", "grey")
    assert code == 2 and "takes 3-channel images and dataset 'grey' has 1" in err


def test_targets_that_cannot_be_ranked(store: Workspace) -> None:
    one = ImportOptions(allow_one_class=True)
    import_dataset(class_folders(store.root / "one", {"cat": 20}), "one", one, workspace=store)
    with pytest.raises(DataError, match="dataset 'one' has one class"):
        rank("one", workspace=store)
    few = ImportOptions(val_percent=0, test_percent=0)
    import_dataset(class_folders(store.root / "few", {"a": 1, "b": 1}), "few", few, workspace=store)
    with pytest.raises(DataError, match="2 training images for 2 classes"):
        rank("few", workspace=store)
    with pytest.raises(NotFoundError, match="no model named 'ghost'"):
        rank("colours", ["ghost"], workspace=store)
