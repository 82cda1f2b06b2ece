"""``lumos train preset=finetune``: published weights the planner expects to train within
the budget on this machine, at an input size that keeps their stem, said in words; the
recipe's own settings win."""

from __future__ import annotations

from pathlib import Path

import pytest
import torchvision
from torchvision.models import ResNet18_Weights

from helpers import cache_torchvision_weights, colour_folders, run_cli
from lumos.data import import_dataset
from lumos.jobs import list_jobs, open_job
from lumos.plan import presets
from lumos.workspace import Workspace

TRAIN = ("epochs=1", "batch_size=6", "workers=0", "precision=fp32")


@pytest.fixture
def colours(workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """16-pixel colour squares, and ResNet-18's weights (random) in torch.hub's cache."""
    import_dataset(
        colour_folders(tmp_path / "colours", per_class=6), "colours", workspace=workspace
    )
    state = torchvision.models.resnet18().state_dict()
    cache_torchvision_weights(
        ResNet18_Weights.IMAGENET1K_V1, state, tmp_path / "torch", monkeypatch
    )
    return "colours"


def test_the_preset_falls_back_to_what_fits_the_budget_and_says_why(
    colours: str, workspace: Workspace, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(presets, "BUDGET_MINUTES", 1e-9)  # no network's run fits: the cheapest
    code, out, err = run_cli(monkeypatch, capsys, "train", f"dataset={colours}", "preset=finetune",
                             *TRAIN)  # fmt: skip
    assert code == 0, err
    said = " ".join(out.split())
    assert ("preset finetune: resnet18 from torchvision:resnet18.IMAGENET1K_V1 (acc@1 69.8 on "
            "ImageNet-1K), input 64x64, finetune=lp-ft, lr=0.01; about ") in said  # fmt: skip
    for other in ("resnet50", "efficientnet_b0", "mobilenet_v3_large"):
        assert f"not {other}: about " in said and "over the 1e-09-minute budget" in said
    job = open_job(workspace, next(j["id"] for j in list_jobs(workspace) if j["kind"] == "train"))
    assert job.state == "done"
    recipe = job.params
    assert (recipe["network"], recipe["finetune"], recipe["input_size"]) == ("resnet18", "lp-ft",
                                                                            [64, 64])  # fmt: skip
    assert (
        "weight tensors taken from model 'torchvision:resnet18.IMAGENET1K_V1'"
        in (job.folder / "log.txt").read_text()
    )


def test_the_recipes_own_settings_win(
    colours: str, workspace: Workspace, monkeypatch, capsys
) -> None:
    mine = ("network=resnet18", "lr=0.003", "input_size=[32, 32]")
    code, out, err = run_cli(monkeypatch, capsys, "train", f"dataset={colours}", "preset=finetune",
                             *mine, *TRAIN)  # fmt: skip
    assert code == 0, err
    assert "input 32x32, finetune=lp-ft; about" in " ".join(out.split())
    job = open_job(workspace, next(j["id"] for j in list_jobs(workspace) if j["kind"] == "train"))
    assert (job.params["lr"], job.params["input_size"], job.params["init"]) == (
        0.003, [32, 32], "torchvision:resnet18.IMAGENET1K_V1")  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("preset=fast", "unknown preset 'fast': choose from finetune"),
        ("network=lenet5", "preset finetune: no published weights for lenet5 (classifiers with"),
    ],
)
def test_a_preset_that_cannot_be_made_is_refused(
    setting: str, message: str, colours: str, workspace: Workspace, monkeypatch, capsys
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "train", f"dataset={colours}", "preset=finetune",
                           setting, *TRAIN)  # fmt: skip
    assert code == 2 and message in err and "Traceback" not in err, err
    assert [j["kind"] for j in list_jobs(workspace)] == ["import"]
