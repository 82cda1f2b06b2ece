"""Before a run starts: the input size it trains at and why, and a warning where the planner
expects its first epoch to outlast the time limit."""

from __future__ import annotations

import pytest

from helpers import run_cli
from lumos.data import Dataset
from lumos.jobs import list_jobs, open_job
from lumos.models import input_for
from lumos.plan.on_dataset import dataset_plan
from lumos.workspace import Workspace

LENET = ("network=lenet5", "batch_size=16", "workers=0", "precision=fp32")


def test_a_network_trains_at_the_images_size_and_says_why() -> None:
    small = input_for("resnet18", (28, 28))
    assert small.size == (28, 28)
    assert small.line() == (
        "input 28x28: the images' own size; resnet18's design input, 224x224, would be 64x "
        "their pixels; input_size changes it"
    )
    close = input_for("lenet5", (28, 28))
    assert (
        close.reason == "the images' own size (lenet5's design input, 32x32); input_size changes it"
    )
    assert (
        input_for("resnet18", (28, 28), (96, 96)).line() == "input 96x96: the recipe's input_size"
    )


def test_the_job_log_and_the_plan_say_the_input(digits: Workspace) -> None:
    data = Dataset.open("digits", digits)
    plan = dataset_plan("resnet18", data, 8)
    assert plan["input"]["size"] == [28, 28] and "64x their pixels" in plan["input"]["reason"]
    asked = dataset_plan("resnet18", data, 8, input_size=(64, 64))
    assert asked["input"] == {"size": [64, 64], "reason": "the recipe's input_size"}
    larger = dataset_plan("resnet18", data, 8, input_size=(128, 128))  # both: the usual stem
    assert larger["memory"]["training"] > asked["memory"]["training"]


def test_lumos_train_warns_before_an_epoch_outlasts_the_time_limit(
    digits: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "train", "dataset=digits", "epochs=50",
                             "time_limit=0.00001", *LENET)  # fmt: skip
    assert code == 0, err
    said = " ".join(out.split())
    assert "note: the planner expects one epoch of lenet5 at 28x28 to take about " in said
    assert "more than time_limit=1e-05 min: the run will end " in said
    job = open_job(digits, list_jobs(digits)[0]["id"])
    log = (job.folder / "log.txt").read_text()
    assert "input 28x28: the images' own size (lenet5's design input, 32x32)" in log
    assert "time limit: 1e-05 minutes reached after 0." in log
    code, out, err = run_cli(monkeypatch, capsys, "train", "dataset=digits", "epochs=1",
                             "time_limit=60", *LENET)  # fmt: skip
    assert code == 0 and "note:" not in out, err


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (("dataset=nope",), "no dataset named 'nope'"),
        (("dataset=digits", "network=nonet"), "unknown network 'nonet'"),
        (("dataset=digits", "network=lenet5", "input_size=[2,2]"), "lenet5 needs inputs of at"),
        (("dataset=digits", "time_limit=-1"), "time_limit"),
    ],
)
def test_a_time_limited_run_that_cannot_start_is_one_line(
    digits: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    settings: tuple[str, ...],
    message: str,
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "train", "time_limit=1", *settings)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not [job for job in list_jobs(digits) if job["kind"] == "train"]
