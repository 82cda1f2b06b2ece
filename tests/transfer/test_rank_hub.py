"""``lumos transfer rank --hub``: published weights ranked beside the store's models, pulled
first (here from torch.hub's cache: no network), with P2L said to be left out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torchvision
from torchvision.models import ResNet18_Weights

from helpers import cache_torchvision_weights, colour_folders, run_cli
from lumos.bundle import Bundle
from lumos.data import import_dataset
from lumos.workspace import Workspace


def test_published_weights_are_ranked_beside_the_store(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import_dataset(
        colour_folders(tmp_path / "colours", per_class=6), "colours", workspace=workspace
    )
    state = torchvision.models.resnet18().state_dict()
    cache_torchvision_weights(
        ResNet18_Weights.IMAGENET1K_V1, state, tmp_path / "torch", monkeypatch
    )
    rank = ("transfer", "rank", "colours")
    code, out, err = run_cli(monkeypatch, capsys, *rank, "--hub", "resnet18", "--no-control",
                             "--all", "--json")  # fmt: skip
    assert code == 0, err
    [row] = json.loads(out)["sources"]
    assert row["source"] == "resnet18-imagenet1k_v1" and row["network"] == "resnet18"
    assert row["note"] == "P2L left out: its training data is not in the workspace"
    assert math.isfinite(row["scores"]["logme"])
    provenance = Bundle.load("resnet18-imagenet1k_v1", workspace).meta.provenance
    assert provenance["spec"] == "torchvision:resnet18.IMAGENET1K_V1"

    code, out, _ = run_cli(monkeypatch, capsys, *rank, "--no-control", "--all")
    assert code == 0 and "resnet18-imagenet1k_v1: P2L left out" in " ".join(out.split())
    code, _, err = run_cli(monkeypatch, capsys, *rank, "--hub", "resnet5O")
    assert code == 2 and "(nearest: resnet50" in err and "Traceback" not in err, err
