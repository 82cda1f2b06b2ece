"""Each process of a run validates its own share of the validation split; merged, the shares
give the metrics of the whole split, for every task (no process group needed: the second
process's share is computed first and handed to the first's merge)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from helpers import detector_recipe, import_squares, square_boxes
from lumos.data import Dataset, import_dataset
from lumos.data.loader import BatchLoader
from lumos.recipe import Recipe
from lumos.train import Trainer
from lumos.train.group import Group
from lumos.workspace import Workspace


class _RedBox(nn.Module):
    """A 'detector' that boxes all of an image's red pixels as one red square: right where
    an image has one, wrong where it has two."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        found = []
        for image in images:
            ys, xs = torch.nonzero(image[0] - image[1:].amax(0) > 0.5, as_tuple=True)
            boxes = torch.zeros(0, 4)
            if len(xs):
                boxes = torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()[None]
            ones = torch.ones(len(boxes))
            found.append({"boxes": boxes, "labels": ones.long(), "scores": ones * 0.9})
        return found


def _sharded(trainer: Trainer, model: nn.Module) -> dict[str, float]:
    """The metrics of a two-process run: process 1's share first, then process 0's merged
    with it."""
    objective, prepare = trainer.objective, functools.partial(trainer.prepare, train=False)
    shares = [Group(rank, 2).part(trainer.val_split) for rank in (0, 1)]
    assert sorted(map(len, shares)) in ([len(trainer.val_split) // 2] * 2, [
        len(trainer.val_split) // 2, len(trainer.val_split) // 2 + 1])  # fmt: skip
    assert not set(shares[0].indices) & set(shares[1].indices)
    kept: list[Any] = []

    def second(found: Any) -> list[Any]:
        kept.append(found)
        return [found]

    def first(found: Any) -> list[Any]:
        return [found, kept[0]]

    targets = trainer.task.targets
    objective.validate(model, BatchLoader(shares[1], 8, targets=targets), prepare, second)
    return objective.validate(model, BatchLoader(shares[0], 8, targets=targets), prepare, first)


def _squares(root: Path) -> tuple[Recipe, Dataset]:
    workspace = Workspace(root / "ws")
    import_squares(root / "squares", workspace, test_percent=0)
    recipe = Recipe(dataset="squares", network="fpn_resnet18", batch_size=4, precision="fp32")
    return recipe, Dataset.open("squares", workspace)


def _boxes(root: Path) -> tuple[Recipe, Dataset]:
    workspace = Workspace(root / "ws")
    import_dataset(square_boxes(root / "boxes", count=40), "boxes", workspace=workspace)
    return detector_recipe("boxes", precision="fp32"), Dataset.open("boxes", workspace)


def _digits(root: Path) -> tuple[Recipe, Dataset]:
    workspace = Workspace(root / "ws")
    import_dataset("sample:digits", "digits", workspace=workspace, max_per_class=9)
    recipe = Recipe(dataset="digits", network="lenet5", batch_size=8, precision="fp32")
    return recipe, Dataset.open("digits", workspace)


@pytest.mark.parametrize("made", [_digits, _squares, _boxes], ids=["classes", "masks", "boxes"])
def test_the_shares_merged_give_the_whole_splits_metrics(made, tmp_path: Path) -> None:
    recipe, dataset = made(tmp_path)
    trainer = Trainer(recipe, dataset)
    model = _RedBox() if trainer.task.name == "detection" else trainer.eval_model().eval()
    prepare = functools.partial(trainer.prepare, train=False)
    whole = trainer.objective.validate(model, trainer.val_loader, prepare)
    assert all(type(value) is float for value in whole.values())  # a checkpoint keeps them
    assert _sharded(trainer, model) == pytest.approx(whole, rel=1e-6)
    assert len(trainer.val_loader.dataset) == len(trainer.val_split)  # one process: all
    if trainer.task.name == "detection":
        assert 0 < whole["val_map_50"] < 1  # found where there is a square, missed elsewhere
