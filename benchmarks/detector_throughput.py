"""Detector training throughput on the CPU: bf16 autocast against fp32.

Imports the shapes sample (128x128) and runs the lumos trainer on it with the demo's
recipe (``fcos_resnet18_fpn`` at 96x96) for ``--steps`` optimiser steps per precision,
after ``--warmup`` steps that are not timed. Prints images/s of each and the ratio, and
whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX), without which PyTorch
emulates bf16 and the ratio is below 1.

    python benchmarks/detector_throughput.py [--steps 20] [--warmup 3] [--network NAME]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from lumos.arithmetic import cpu_has_native_bf16
from lumos.data import Dataset, import_dataset
from lumos.demo import DETECTION_RECIPE
from lumos.train.trainer import Trainer
from lumos.workspace import Workspace
from machine import print_machine


def images_per_second(dataset: Dataset, network: str, precision: str, steps: int, warmup: int):
    recipe = DETECTION_RECIPE.model_copy(
        update={"network": network, "precision": precision, "workers": 1}
    )
    trainer = Trainer(recipe, dataset)
    trainer.state.sums = {"loss": 0.0, "correct": 0.0, "seen": 0.0, "counted": 0.0}
    trainer.model.train()
    batches = trainer.loader.iterate()
    start, seen = 0.0, 0
    for step in range(warmup + steps):
        images, targets = next(batches)
        if step == warmup:
            start = time.perf_counter()
        trainer._step(images, targets)
        trainer.state.position += 1
        seen += len(images) if step >= warmup else 0
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--network", default=DETECTION_RECIPE.network)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(Path(folder))
        dataset = Dataset(import_dataset("sample:shapes", "shapes", workspace=workspace))
        rates = {
            precision: images_per_second(dataset, args.network, precision, args.steps, args.warmup)
            for precision in ("fp32", "bf16")
        }
    height, width = DETECTION_RECIPE.input_size or (128, 128)
    batch, threads = DETECTION_RECIPE.batch_size, torch.get_num_threads()
    print(f"{args.network}, batch {batch}, {width}x{height} inputs, {threads} threads")
    print(f"native bf16 on this CPU: {cpu_has_native_bf16()}")
    for precision, rate in rates.items():
        print(f"{precision}: {rate:6.1f} images/s")
    print(f"bf16 / fp32: {rates['bf16'] / rates['fp32']:.2f}")


if __name__ == "__main__":
    main()
