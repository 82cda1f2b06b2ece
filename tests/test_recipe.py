import math

import pytest
import torch

from lumos.data.augment import Augment
from lumos.train import Recipe, RecipeError
from lumos.train.schedules import Schedule


def test_recipe_round_trips_through_yaml() -> None:
    recipe = Recipe(
        dataset="digits", network="lenet5", epochs=3, milestones=[1, 2], lr_policy="multistep"
    )
    again = Recipe.from_yaml(recipe.to_yaml())
    assert again == recipe


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dataset": "d", "epoch": 3}, "unknown key 'epoch'"),
        ({"dataset": "d", "epochs": "many"}, "epochs: Input should be a valid integer"),
        ({"dataset": "d", "lr": -1}, "lr: Input should be greater than 0"),
        (
            {"dataset": "d", "optimizer": "adagrad"},
            "optimizer: Input should be 'sgd', 'adam', 'adamw' or 'rmsprop'",
        ),
        ({"dataset": "d", "lr_policy": "multistep"}, "lr_policy multistep needs milestones"),
        ({"epochs": 3}, "dataset: Field required"),
    ],
)
def test_recipe_mistakes_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        Recipe.parse(values)


def test_malformed_recipe_yaml() -> None:
    with pytest.raises(RecipeError, match="malformed YAML"):
        Recipe.from_yaml("dataset: [", "r.yaml")
    with pytest.raises(RecipeError, match="a recipe is a mapping"):
        Recipe.from_yaml("- 1\n- 2\n", "r.yaml")


def rates(policy: str, **extra: object) -> list[float]:
    recipe = Recipe(dataset="d", epochs=10, lr=1.0, lr_policy=policy, **extra)
    schedule = Schedule(recipe, steps_per_epoch=1)
    return [schedule.rate(step) for step in range(10)]


def test_schedules() -> None:
    assert rates("fixed") == [1.0] * 10
    assert rates("step", step_size=4, gamma=0.5)[::4] == [1.0, 0.5, 0.25]
    assert rates("multistep", milestones=[2, 5])[1:7] == [
        1.0,
        0.1,
        0.1,
        0.1,
        pytest.approx(0.01),
        pytest.approx(0.01),
    ]
    assert rates("exponential", gamma=0.5)[3] == 0.125
    cosine = rates("cosine")
    assert cosine[0] == 1.0 and cosine[5] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert rates("polynomial", power=2.0)[5] == pytest.approx(0.25)
    one_cycle = rates("onecycle")
    assert one_cycle[0] == pytest.approx(1 / 25) and max(one_cycle) == pytest.approx(1.0, abs=0.05)
    assert rates("cosine", warmup_epochs=4)[:4] == [0.25, 0.5, 0.75, 1.0]


def test_plateau_divides_when_validation_stops_improving() -> None:
    schedule = Schedule(
        Recipe(dataset="d", lr=1.0, lr_policy="plateau", plateau_patience=1), steps_per_epoch=1
    )
    for accuracy in (0.5, 0.6, 0.6, 0.6):
        schedule.observe(accuracy, maximise=True)
    assert schedule.rate(0) == pytest.approx(0.1)
    restored = Schedule(schedule.recipe, 1)
    restored.restore(schedule.state())
    assert restored.rate(0) == pytest.approx(0.1)


def test_augment_is_repeatable_and_keeps_range() -> None:
    images = torch.rand(8, 3, 16, 16)
    augment = Augment(
        hflip=True, crop_scale=0.5, rotation=20, color_jitter=0.4, invert=0.5, noise=0.05
    )
    first = augment(images, torch.Generator().manual_seed(1))
    again = augment(images, torch.Generator().manual_seed(1))
    other = augment(images, torch.Generator().manual_seed(2))
    assert (
        first.shape == images.shape and torch.equal(first, again) and not torch.equal(first, other)
    )
    assert first.min() >= 0 and first.max() <= 1


def test_flip_alone_mirrors_some_images() -> None:
    images = torch.arange(16.0).view(1, 1, 4, 4).repeat(32, 1, 1, 1) / 16
    out = Augment(hflip=True)(images, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, images[0].flip(2)) for o in out]
    kept = [torch.equal(o, images[0]) for o in out]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and 5 < sum(flipped) < 27
