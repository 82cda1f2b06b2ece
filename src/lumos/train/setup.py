"""What a run settles before it starts: the splits it trains on (checked to fit the
recipe) and how it normalises its inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lumos.data import Dataset
from lumos.models import default_normalize
from lumos.models.normalization import identity, mean_image, per_channel
from lumos.recipe import Recipe
from lumos.tasks import misfit, task_of
from lumos.tasks.preprocessing import Preprocessing
from lumos.train.errors import TrainError


def normalization(recipe: Recipe) -> str:
    """How a run normalises its inputs: the recipe's choice, else the network's default."""
    return recipe.normalize or default_normalize(recipe.network)


def normalizer(
    recipe: Recipe,
    dataset: Dataset,
    input_size: tuple[int, int],
    source: Preprocessing | None = None,
) -> nn.Module:
    """The layer that normalises a run's inputs (at ``input_size``) as the recipe says; by
    default, a run that starts from a saved ``source`` normalises as it did (as timm and
    fastai fine-tune: the features were learnt on inputs of those statistics)."""
    normalize = normalization(recipe)
    stats = source.stats if source is not None else None
    if recipe.normalize is None and stats is not None and len(stats[0]) == dataset.channels:
        return per_channel(*stats)
    if normalize == "none":
        return identity(dataset.channels)
    if normalize == "per-channel":
        return per_channel(dataset.mean, dataset.std)
    image = torch.from_numpy(dataset.mean_image).permute(2, 0, 1)[None] / 255
    return mean_image(F.interpolate(image, size=input_size, mode="bilinear", antialias=True)[0])


def check_fit(recipe: Recipe, dataset: Dataset) -> tuple[Dataset, Dataset]:
    """The training and validation splits of ``dataset``; refused if the recipe cannot train
    on them: no training or validation records, a batch larger than the training split, or a
    network of another task than the data's."""
    train, val = dataset.split("train"), dataset.split("val")
    name, task = dataset.name, task_of(recipe.network)
    if not len(train):
        raise TrainError(f"dataset {name!r} has no training records")
    if not len(val):
        raise TrainError(f"dataset {name!r} has no validation records: re-import it with --val 15")
    if recipe.batch_size > len(train):
        raise TrainError(
            f"batch_size {recipe.batch_size} is larger than the {len(train)} training "
            f"records of {name!r}: use at most {len(train)}"
        )
    if not task.fits(dataset):
        raise TrainError(misfit(task, recipe.network, dataset))
    problem = task.recipe_problem(recipe)
    if problem:
        raise TrainError(problem)
    return train, val
