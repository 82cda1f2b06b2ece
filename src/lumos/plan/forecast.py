"""What the planner expects of a run before it starts: an epoch's minutes on this machine,
and whether the recipe's time limit lets one finish."""

from __future__ import annotations

from pathlib import Path

from lumos.data import Dataset
from lumos.models import input_for
from lumos.plan.memory import workload
from lumos.plan.timing import efficiency, efficiency_cache
from lumos.recipe import Recipe
from lumos.tasks import task_of
from lumos.workspace import Workspace


def training_speed(
    network: str, dataset: Dataset, size: tuple[int, int], optimizer: str, root: Path
) -> float:
    """Training images a second of ``network`` on ``dataset``'s images at ``size``, as the
    planner measures it on this machine (once: the workspace keeps it)."""
    work = workload(
        network,
        (dataset.channels, *size),
        optimizer=optimizer,
        num_classes=len(task_of(network).outputs(dataset.classes)),
    )
    return efficiency(work, efficiency_cache(root)).images_per_second


def epoch_minutes(
    network: str, dataset: Dataset, size: tuple[int, int], optimizer: str, root: Path
) -> float:
    """An epoch of ``dataset``'s training and validation images at ``size`` on this
    machine, at the speed the planner measures for ``network`` here."""
    speed = training_speed(network, dataset, size, optimizer, root)
    images = len(dataset.split("train")) + len(dataset.split("val")) / 3  # no backward pass
    return images / speed / 60


def time_limit_warning(recipe: Recipe, workspace: Workspace) -> str | None:
    """What to tell the user before a run whose first epoch the planner expects to outlast
    its ``time_limit`` (None: no limit, or an epoch fits)."""
    if not recipe.time_limit:
        return None
    dataset = Dataset.open(recipe.dataset, workspace)
    size = input_for(recipe.network, dataset.size, recipe.input_size).size
    minutes = epoch_minutes(recipe.network, dataset, size, recipe.optimizer, workspace.root)
    if minutes <= recipe.time_limit:
        return None
    return (
        f"note: the planner expects one epoch of {recipe.network} at {size[1]}x{size[0]} to "
        f"take about {duration(minutes)} on this machine, more than time_limit="
        f"{recipe.time_limit:g} min: the run will end {recipe.time_limit / minutes:.0%} of "
        "the way into its first epoch (a smaller input_size, a lighter network or a longer "
        "time_limit lets it finish one)"
    )


def duration(minutes: float) -> str:
    """``minutes`` in words: seconds under a minute."""
    return f"{minutes * 60:.0f} s" if minutes < 1 else f"{minutes:.1f} min"
