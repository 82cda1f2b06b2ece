"""``init=SPEC``: a training run that starts from a library's weights by name, pulled into
the store once (here from torch.hub's cache, with no network) and read from it after."""

from __future__ import annotations

from pathlib import Path

import pytest
import torchvision
from torchvision.models import ResNet18_Weights

from helpers import cache_torchvision_weights, colour_folders, run_cli, square_boxes
from lumos.bundle import Bundle
from lumos.data import import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.jobs import list_jobs, open_job
from lumos.pretrained import IMAGENET
from lumos.workspace import Workspace

SPEC = "torchvision:resnet18.IMAGENET1K_V1"
TRAIN = ("epochs=1", "batch_size=6", "workers=0", "precision=fp32")


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ResNet-18's weights (random: nothing is downloaded) in torch.hub's cache, under the
    name torchvision's entry points to; the URL itself is never reached."""
    state = torchvision.models.resnet18().state_dict()
    weights = ResNet18_Weights.IMAGENET1K_V1
    return cache_torchvision_weights(weights, state, tmp_path / "torch", monkeypatch)


def test_a_run_starts_from_weights_by_name_with_their_network(
    workspace: Workspace, cached: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import_dataset(
        colour_folders(tmp_path / "colours", per_class=6), "colours", workspace=workspace
    )
    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=colours", f"init={SPEC}", *TRAIN)
    assert code == 0, err
    job = open_job(workspace, list_jobs(workspace)[0]["id"])
    assert job.state == "done" and job.params["network"] == "resnet18"
    log = (job.folder / "log.txt").read_text()
    # All but the head and the stem (3x3 on 16-pixel images, where ImageNet's is 7x7).
    assert f"119 weight tensors taken from model {SPEC!r}" in log, log
    assert "its head shares 0 of 3 classes by name" in log
    pulled = Bundle.load("resnet18-imagenet1k_v1", workspace)
    assert pulled.meta.provenance["spec"] == SPEC and len(pulled.labels) == 1000
    # The run normalises as the weights were trained to see (ImageNet's statistics).
    trained = bundle_from_job(job.id, "fine", workspace=workspace)
    assert Bundle.load(trained).preprocessing.mean == pytest.approx(IMAGENET[0])

    # The second run reads the store: the cache may go, the model stays.
    cached.unlink()
    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=colours", f"init={SPEC}", *TRAIN)
    assert code == 0, err


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("init=torchvision:resnet18.IMAGENET1K_V9", "(nearest: resnet18.IMAGENET1K_V1"),
        ("init=timm:nosuchnet", "timm has no pretrained 'nosuchnet'"),
        (f"init={SPEC}", "resnet18 classifies images, but dataset 'boxes' has no class labels"),
    ],
)
def test_weights_that_cannot_start_the_run_are_refused_before_a_job(
    setting: str, message: str, workspace: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    import_dataset(square_boxes(tmp_path / "boxes", count=8), "boxes", workspace=workspace)
    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=boxes", setting, *TRAIN)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert [job["kind"] for job in list_jobs(workspace)] == ["import"]
    assert not list(workspace.models_dir.glob("*"))


def test_a_detector_starts_from_a_classifiers_weights_in_its_backbone(
    workspace: Workspace, cached: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import_dataset(square_boxes(tmp_path / "boxes", count=8), "boxes", workspace=workspace)
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "dataset=boxes", "network=fcos_resnet18_fpn",
        f"init={SPEC}", "warmup_epochs=0", *TRAIN,
    )  # fmt: skip
    assert code == 0, err
    job = open_job(workspace, list_jobs(workspace)[0]["id"])
    assert job.state == "done" and job.params["network"] == "fcos_resnet18_fpn"
    log = (job.folder / "log.txt").read_text()
    assert f"weight tensors taken from model {SPEC!r}" in log, log
