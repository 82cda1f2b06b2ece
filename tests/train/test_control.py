"""`lumos train init=MODEL --control`: the run set beside the same recipe from scratch."""

from __future__ import annotations

import json

import pytest

from helpers import colour_folders, run_cli
from lumos.data import import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.jobs import open_job
from lumos.train import Recipe, train
from lumos.train.control import Comparison, run_control
from lumos.train.errors import TrainError
from lumos.workspace import Workspace


def test_a_source_that_knows_the_classes_helps_and_the_cli_says_so(
    workspace: Workspace, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import_dataset(colour_folders(tmp_path / "many", per_class=16), "many", workspace=workspace)
    import_dataset(colour_folders(tmp_path / "few", per_class=6), "few", workspace=workspace)
    recipe = Recipe(dataset="many", network="lenet5", epochs=6, batch_size=8, lr=0.05,
                    workers=0, precision="fp32")  # fmt: skip
    bundle_from_job(train(recipe, workspace=workspace, progress=False).id, "colours",
                    workspace=workspace)  # fmt: skip
    code, out, err = run_cli(
        monkeypatch, capsys, "train", "dataset=few", "network=lenet5", "init=colours",
        "epochs=3", "batch_size=4", "lr=0.0005", "workers=0", "precision=fp32", "--control",
    )  # fmt: skip
    assert code == 0, err
    assert "starting from 'colours' helped (best val_accuracy in 3 epochs" in out
    job = open_job(workspace, out.split()[1].rstrip(":"))
    written = json.loads((job.folder / "control.json").read_text())
    assert written["helped"] and written["epochs"] == [1, 2, 3]
    assert written["from_source"][0] > written["from_scratch"][0]
    assert (job.folder / "control.png").read_bytes().startswith(b"\x89PNG")
    assert "helped" in (job.folder / "log.txt").read_text()

    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=few", "network=lenet5",
                           "--control")  # fmt: skip
    assert code == 2 and "set init" in err
    plain = train(recipe.model_copy(update={"epochs": 1}), workspace=workspace, progress=False)
    with pytest.raises(TrainError, match="did not start from a saved model"):
        run_control(plain, workspace)


def test_the_verdict_says_plainly_when_the_source_did_not_help() -> None:
    tie = Comparison("letters", "val_accuracy", [1, 2], [0.5, 0.7], [0.6, 0.7])
    assert not tie.helped
    assert tie.verdict().startswith(
        "starting from 'letters' did not help: from scratch did as well"
    )
    losses = Comparison("letters", "val_loss", [1, 2], [0.9, 0.4], [1.2, 0.5])
    assert losses.helped and "best val_loss in 2 epochs: 0.4000" in losses.verdict()
