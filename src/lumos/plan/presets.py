"""Presets: recipes a newcomer can train without knowing the choices in them.

``preset=finetune`` starts from published weights: of the networks the dataset's task can
fine-tune (``Task.pretrained``, the most accurate first), the first whose run the planner
expects to end within the time limit on this machine (``time_limit``, else
:data:`BUDGET_MINUTES`), at an input size that keeps the weights' stem, with the task's
fine-tuning settings (``Task.fine_tuning``: a classifier probes its head first) and a
batch no larger than the training split. What the recipe sets itself is kept. The preset
says what it chose and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from lumos.data import Dataset
from lumos.models.classifiers import SMALL_INPUT
from lumos.plan.forecast import duration, epoch_minutes
from lumos.plan.memory import PlanError
from lumos.pretrained.init import names_weights
from lumos.pretrained.library_input import weights_input
from lumos.pretrained.pull import pullable
from lumos.recipe import Recipe
from lumos.tasks import PretrainedStart, task_for
from lumos.workspace import Workspace

BUDGET_MINUTES = 10.0  # what a preset's run aims to take unless the recipe's time_limit says
PRESETS = ("finetune",)


@dataclass(frozen=True)
class Preset:
    """A recipe a preset filled in, and what it chose, in words."""

    recipe: Recipe
    said: list[str]


def with_preset(settings: list[str], workspace: Workspace) -> Preset:
    """The recipe of ``lumos train``'s settings (YAML files and ``KEY=VALUE``), with the
    preset a ``preset=NAME`` setting names filled in where the others are silent."""
    named = [s.partition("=")[2] for s in settings if s.partition("=")[0].strip() == "preset"]
    recipe = Recipe.from_settings([s for s in settings if s.partition("=")[0].strip() != "preset"])
    if not named:
        return Preset(recipe, [])
    if named[-1] not in PRESETS:
        raise PlanError(f"unknown preset {named[-1]!r}: choose from {', '.join(PRESETS)}")
    return finetune(recipe, workspace)


def finetune(recipe: Recipe, workspace: Workspace) -> Preset:
    """``recipe`` filled in to fine-tune published weights on its dataset (see the module)."""
    dataset = Dataset.open(recipe.dataset, workspace)
    task, given = task_for(dataset), recipe.model_fields_set
    starts = [s for s in task.pretrained if "network" not in given or s.network == recipe.network]
    if not starts:
        offered = ", ".join(s.network for s in task.pretrained) or "none"
        raise PlanError(
            f"preset finetune: no published weights for {recipe.network} "
            f"({task.noun}s with them: {offered})"
        )
    budget = recipe.time_limit or BUDGET_MINUTES
    said: list[str] = []
    for start in starts:
        size = _input_size(start, dataset, recipe)
        minutes = recipe.epochs * epoch_minutes(
            start.network, dataset, size, recipe.optimizer, workspace.root
        )
        if minutes <= budget or start is starts[-1]:
            break
        said.append(
            f"not {start.network}: about {duration(minutes)} for {recipe.epochs} epochs on "
            f"this machine, over the {budget:g}-minute budget"
        )
    batch = min(recipe.batch_size, len(dataset.split("train")))
    chosen = {"network": start.network, "init": start.init, "input_size": size, "batch_size": batch}
    chosen = {k: v for k, v in (chosen | dict(task.fine_tuning)).items() if k not in given}
    recipe = Recipe.parse(recipe.model_dump(exclude_unset=True) | chosen, "preset finetune")
    figure = pullable(recipe.init).reported if names_weights(recipe.init) else None  # type: ignore[arg-type]
    named = ("network", "init", "input_size")  # said in words below
    settings = ", ".join(f"{k}={v}" for k, v in chosen.items() if k not in named)
    said.insert(
        0,
        f"preset finetune: {recipe.network} from {recipe.init}"
        + (f" ({figure})" if figure else "")
        + f", input {size[0]}x{size[1]}"
        + (f", {settings}" if settings else "")
        + f"; about {duration(minutes)} for {recipe.epochs} epochs on this machine",
    )
    return Preset(recipe, said)


def _input_size(start: PretrainedStart, dataset: Dataset, recipe: Recipe) -> tuple[int, int]:
    """The recipe's input size, else the data's: each side raised to the least at which a
    network keeps its own stem (and so the stem's weights), and no larger than the size the
    weights were trained at."""
    if recipe.input_size is not None:
        return recipe.input_size
    trained = weights_input(start.init).size or (1 << 16, 1 << 16)  # a detector's: any size
    height, width = (max(side, SMALL_INPUT) for side in dataset.size)
    return min(height, trained[0]), min(width, trained[1])
