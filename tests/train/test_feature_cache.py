"""The features a linear probe fits on are computed once and kept with the dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers import colour_folders
from lumos.data import Dataset, import_dataset
from lumos.recipe import Recipe
from lumos.train import feature_cache
from lumos.train.trainer import Trainer
from lumos.workspace import Workspace


@pytest.fixture
def colours(tmp_path: Path) -> Dataset:
    workspace = Workspace(tmp_path / "ws").ensure()
    import_dataset(colour_folders(tmp_path / "colours", size=32), "colours", workspace=workspace)
    return Dataset.open("colours", workspace)


def _probe(dataset: Dataset, **values: object) -> tuple[Trainer, list[int]]:
    """A linear-probe trainer, and a list that counts its network's forward passes."""
    settings = {"dataset": "colours", "network": "resnet18", "finetune": "linear-probe",
                "batch_size": 8, "lr": 0.05, "workers": 0, "precision": "fp32"}  # fmt: skip
    trainer = Trainer(Recipe(**{**settings, **values}), dataset)
    calls: list[int] = []
    trainer.model.register_forward_hook(lambda *_: calls.append(1))
    return trainer, calls


def _cached(dataset: Dataset) -> list[Path]:
    return sorted((dataset.folder / "features").glob("*.pt"))


def test_a_second_probe_from_the_same_body_runs_no_network(colours: Dataset) -> None:
    first, calls = _probe(colours)
    accuracy = first.fit().history[0]["val_accuracy"]
    assert calls and len(_cached(colours)) == 2  # the training and the validation split
    again, calls = _probe(colours, lr=0.02)  # another head rate, the same body
    history = again.fit().history
    assert calls == [] and len(_cached(colours)) == 2
    assert accuracy >= 0.6 and history[0]["val_accuracy"] >= 0.6
    other, calls = _probe(colours, seed=1)  # another random body: its own features
    other.fit()
    assert calls and len(_cached(colours)) == 4


def test_a_damaged_cache_file_is_computed_again(colours: Dataset) -> None:
    _probe(colours)[0].fit()
    for path in _cached(colours):
        path.write_bytes(b"\x80not a tensor file")
    trainer, calls = _probe(colours)
    assert trainer.fit().history[0]["val_accuracy"] >= 0.6 and calls
    assert all(
        torch.load(p, weights_only=True)["features"].shape[1] == 512 for p in _cached(colours)
    )


def test_the_cache_keeps_the_most_recently_used_files(
    colours: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feature_cache, "KEEP", 3)
    for seed in range(3):
        _probe(colours, seed=seed)[0].fit()
    assert len(_cached(colours)) == 3
    latest, calls = _probe(colours, seed=2)  # the last probe's features are still there
    latest.fit()
    assert calls == [] and len(_cached(colours)) == 3
