"""The learning-rate range test (Smith 2015; fastai's lr_find).

Train from the recipe's initial weights while the learning rate grows exponentially from
``start`` to ``end``; record the smoothed loss; stop once it explodes. The suggestion is the
rate where the loss falls fastest.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumos.data import Dataset
from lumos.figures import pyplot
from lumos.recipe import Recipe
from lumos.train.trainer import Trainer, TrainError
from lumos.workspace import Workspace


@dataclass
class LRFinding:
    rates: list[float]
    losses: list[float]  # smoothed
    suggestion: float
    files: list[Path]


def lr_find(
    recipe: Recipe,
    out: Path,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    workspace: Workspace | None = None,
) -> LRFinding:
    """Run the range test for ``recipe``; writes ``lr_find.csv`` and ``lr_find.png`` to ``out``."""
    if not 0 < start < end:
        raise TrainError("lr-find needs 0 < start < end")
    trainer = Trainer(recipe, Dataset.open(recipe.dataset, workspace), workspace=workspace)
    trainer.model.train()
    optimizer = trainer.optimizer
    factor = (end / start) ** (1 / max(steps - 1, 1))
    rates, losses, smoothed, best = [], [], 0.0, math.inf
    batches = itertools.chain.from_iterable(_epochs(trainer))
    for step, (images, labels) in zip(range(steps), batches, strict=False):
        rate = start * factor**step
        for group in optimizer.param_groups:
            group["lr"] = rate * group["lr_scale"]
        _, loss = trainer.forward(*trainer.prepare(images, labels, train=True))
        if not math.isfinite(loss.item()):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        smoothed = 0.98 * smoothed + 0.02 * loss.item()
        value = smoothed / (1 - 0.98 ** (step + 1))  # bias-corrected running mean
        rates.append(rate)
        losses.append(value)
        best = min(best, value)
        if value > 4 * best and step > 10:
            break
    if len(rates) < 5:
        raise TrainError("lr-find stopped before 5 steps: lower the start rate")
    suggestion = _steepest(rates, losses)
    out.mkdir(parents=True, exist_ok=True)
    return LRFinding(
        rates,
        losses,
        suggestion,
        [_write_csv(out, rates, losses), _plot(out, rates, losses, suggestion)],
    )


def _epochs(trainer: Trainer):
    for epoch in itertools.count():
        trainer.loader.set_epoch(epoch)
        yield trainer.loader


def _steepest(rates: list[float], losses: list[float]) -> float:
    """The rate where the smoothed loss falls fastest against log(rate), before its minimum."""
    stop = int(np.argmin(losses)) + 1
    if stop < 3:
        return rates[0]
    slopes = np.gradient(np.asarray(losses[:stop]), np.log(rates[:stop]))
    return float(rates[int(np.argmin(slopes))])


def _write_csv(out: Path, rates: list[float], losses: list[float]) -> Path:
    path = out / "lr_find.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["lr", "loss"])
        writer.writerows(zip(rates, losses, strict=True))
    return path


def _plot(out: Path, rates: list[float], losses: list[float], suggestion: float) -> Path:
    plt = pyplot()
    path = out / "lr_find.png"
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(rates, losses)
    axes.axvline(suggestion, color="red", linestyle="--", label=f"suggested lr {suggestion:.2e}")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("loss (smoothed)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
