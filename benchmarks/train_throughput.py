"""Trainer throughput: ResNet-18 on a 10-class 32x32 dataset, lumos vs a minimal loop.

Generates a CIFAR-format dataset (10 classes of oriented gratings with random phase, tint
and noise), imports it, and trains the same ResNet-18 (small-input stem) for the same
epochs, batch size, optimiser and cosine schedule:
(a) a minimal hand-written PyTorch loop over in-memory tensors, fp32;
(b) the lumos trainer in fp32 without channels-last;
(c) the lumos trainer with its default CPU settings;
(d) the lumos trainer as (b) with its metrics log and progress bar off, for their overhead;
(e) the demo's detector (light FCOS, 128x128, batch 16) on 1,000 generated scenes, as the
    `lumos` command trains it (log and progress bar on, OpenMP's default waiting).
Prints images/s (training steps only, median epoch), the share of the machine's cores kept
busy meanwhile (this process's user + system CPU time over the wall time x the cores it may
use; goal >= 90%) and the final validation score.

    python benchmarks/train_throughput.py [--train 1000] [--epochs 2] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lumos.data import Dataset, import_dataset
from lumos.demo import DETECTION_RECIPE, SCENES
from lumos.models import build_model
from lumos.train import Recipe
from lumos.train.callbacks import MetricsLog, ProgressBar
from lumos.train.trainer import Callback, Trainer
from lumos.workspace import Workspace
from machine import print_machine


def gratings(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    y, x = np.mgrid[0:32, 0:32]
    images = np.empty((count, 32, 32, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        angle = label * math.pi / 10
        wave = np.sin((x * math.cos(angle) + y * math.sin(angle)) * 0.6 + rng.uniform(0, 6.3))
        tint = rng.uniform(0.4, 1.0, 3)
        pixels = (0.5 + 0.4 * wave)[:, :, None] * tint + rng.normal(0, 0.08, (32, 32, 3))
        images[i] = np.clip(pixels * 255, 0, 255)
    return images, labels


def write_cifar(folder: Path, train: int, val: int) -> None:
    folder.mkdir(parents=True)
    for name, count, seed in (("data_batch_1", train, 0), ("val_batch", val, 1)):
        images, labels = gratings(count, seed)
        batch = {"data": images.transpose(0, 3, 1, 2).reshape(count, -1), "labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({"label_names": [f"angle{i}" for i in range(10)]})
    )


CORES = len(os.sched_getaffinity(0))


def cpu_seconds() -> float:
    """This process's user + system CPU time (all its threads)."""
    times = os.times()
    return times.user + times.system


def minimal_loop(dataset: Dataset, recipe: Recipe) -> tuple[float, float, float]:
    """The loop a person would write: tensors in memory, no extras."""
    torch.manual_seed(recipe.seed)
    train, val = dataset.split("train"), dataset.split("val")
    x = torch.from_numpy(train.images(np.arange(len(train)))).permute(0, 3, 1, 2).float() / 255
    y = torch.from_numpy(train.labels())
    vx = torch.from_numpy(val.images(np.arange(len(val)))).permute(0, 3, 1, 2).float() / 255
    vy = torch.from_numpy(val.labels())
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True)
    model = build_model(recipe.network, 10, 3, (32, 32))
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    steps = recipe.epochs * math.ceil(len(x) / recipe.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    rates, busy = [], []
    for _ in range(recipe.epochs):
        model.train()
        order = torch.randperm(len(x))
        start, used = time.perf_counter(), cpu_seconds()
        for i in range(0, len(x), recipe.batch_size):
            batch = order[i : i + recipe.batch_size]
            loss = F.cross_entropy(model((x[batch] - mean) / std), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        wall = time.perf_counter() - start
        rates.append(len(x) / wall)
        busy.append((cpu_seconds() - used) / (wall * CORES))
    model.eval()
    with torch.no_grad():
        accuracy = (model((vx - mean) / std).argmax(1) == vy).float().mean().item()
    return statistics.median(rates), statistics.median(busy), accuracy


class EpochTimer(Callback):
    """Each epoch's training images a second and the share of the cores it kept busy."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.busy: list[float] = []

    def before_epoch(self, trainer: Trainer) -> None:
        self.start, self.used = time.perf_counter(), cpu_seconds()

    def after_batch(self, trainer: Trainer) -> None:
        if trainer.state.position == len(trainer.loader):
            wall = time.perf_counter() - self.start
            self.rates.append(len(trainer.train_split) / wall)
            self.busy.append((cpu_seconds() - self.used) / (wall * CORES))


def lumos_run(
    dataset: Dataset, recipe: Recipe, folder: Path, *, extras: bool
) -> tuple[float, float, float]:
    timer = EpochTimer()
    callbacks: tuple[Callback, ...] = (timer,)
    if extras:
        callbacks += (MetricsLog(folder / f"metrics-{time.time_ns()}.jsonl"), ProgressBar())
    trainer = Trainer(recipe, dataset, callbacks=callbacks)
    state = trainer.fit()
    score = state.history[-1][recipe.metric or trainer.task.default_metric]
    return statistics.median(timer.rates), statistics.median(timer.busy), score


def detector(workspace: Workspace, folder: Path, epochs: int) -> tuple[float, float, float]:
    """(e): the demo's detection recipe for ``epochs`` on the demo's scenes."""
    dataset = Dataset(import_dataset("sample:shapes", "shapes", workspace=workspace,
                                     reader=SCENES))  # fmt: skip
    recipe = DETECTION_RECIPE.model_copy(update={"epochs": epochs, "val_every": epochs})
    return lumos_run(dataset, recipe, folder, extras=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--val", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws")
        write_cifar(Path(tmp) / "gratings", args.train, args.val)
        dataset = Dataset(
            import_dataset(Path(tmp) / "gratings", "gratings", workspace=workspace, test_percent=0)
        )
        base = {
            "dataset": "gratings",
            "network": "resnet18",
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": 0.05,
            "workers": 2,
            "lr_policy": "cosine",
        }
        fp32 = Recipe(**base, precision="fp32", channels_last=False)
        default = Recipe(**base)
        results = {
            "(a) minimal loop, fp32": minimal_loop(dataset, fp32),
            "(b) lumos, fp32": lumos_run(dataset, fp32, Path(tmp), extras=True),
            "(c) lumos, default settings": lumos_run(dataset, default, Path(tmp), extras=True),
            "(d) lumos, fp32, no log/progress": lumos_run(dataset, fp32, Path(tmp), extras=False),
            "(e) lumos, the demo's detector": detector(workspace, Path(tmp), args.epochs),
        }
    from lumos.arithmetic import choose

    print(
        f"ResNet-18, 32x32, {args.train} train / {args.val} val images, {args.epochs} epochs, "
        f"batch {args.batch_size}; default here: {choose('auto').describe()}, channels_last"
    )
    for name, (rate, busy, accuracy) in results.items():
        print(f"{name:34s} {rate:8.1f} img/s   {busy:6.1%} of {CORES} cores busy   "
              f"val score {accuracy:.3f}")  # fmt: skip
    base_rate = results["(a) minimal loop, fp32"][0]
    fp32_ratio = results["(b) lumos, fp32"][0] / base_rate
    default_ratio = results["(c) lumos, default settings"][0] / base_rate
    print(f"lumos fp32 / minimal loop:      {fp32_ratio:.2f}x  (goal >= 0.95)")
    print(f"lumos default / minimal loop:   {default_ratio:.2f}x  (goal >= 1.7)")
    overhead = 1 - results["(b) lumos, fp32"][0] / results["(d) lumos, fp32, no log/progress"][0]
    print(f"logging + progress overhead:    {overhead:.1%}  (goal < 2%)")


if __name__ == "__main__":
    main()
