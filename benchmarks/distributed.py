"""Training on 2 processes x 1 thread (torchrun, gloo) against 1 process x 2 threads, the
same recipe and global batch: ResNet-18 (small-input stem) on generated 32x32 gratings
(train_throughput.py's data). The figure that counts is the wall time of the whole run as a
user waits for it (``lumos.train`` called to returned: start-up, every epoch's training and
validation, checkpoints): its ratio is the speed-up. The training steps' images/s (median of
the logged step rates, validation left out), the seconds outside the training loop (start-up
and the end) and the final validation accuracy of each are printed beside it.

    python benchmarks/distributed.py [--train 2000] [--epochs 4] [--batch-size 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from lumos.data import import_dataset
from lumos.train import Recipe, train
from lumos.train.callbacks import read_metrics
from lumos.workspace import Workspace
from machine import print_machine
from train_throughput import write_cifar


def measured(recipe: Recipe, workspace: Workspace) -> tuple[float, float, float, float]:
    """(training images/s, seconds, final val accuracy, seconds outside the loop: start-up
    and the end) of one run."""
    started = time.perf_counter()
    job = train(recipe, workspace=workspace, progress=False)
    seconds = time.perf_counter() - started
    records = read_metrics(job.folder / "metrics.jsonl")
    steps = [r["images_per_s"] for r in records if r["kind"] == "step" and r["epoch"] > 1]
    last = [r for r in records if r["kind"] == "epoch"][-1]
    return statistics.median(steps), seconds, last["val_accuracy"], seconds - last["elapsed"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws").ensure()
        write_cifar(Path(tmp) / "cifar", args.train, 200)
        import_dataset(str(Path(tmp) / "cifar"), "gratings", workspace=workspace)
        common = {"dataset": "gratings", "network": "resnet18", "epochs": args.epochs,
                  "batch_size": args.batch_size, "lr": 0.05, "workers": 1,
                  "checkpoint_minutes": 0}  # fmt: skip
        setups = {
            "1 process x 2 threads": Recipe(**common, threads=2),
            "2 processes x 1 thread": Recipe(**common, threads=1, nproc=2),
        }
        results: dict[str, list[tuple[float, ...]]] = {name: [] for name in setups}
        for _ in range(args.repeats):  # interleaved: both see the same machine state
            for name, recipe in setups.items():
                results[name].append(measured(recipe, workspace))
    print(f"{args.train} images, {args.epochs} epochs, batch {args.batch_size}, "
          f"median of {args.repeats}")  # fmt: skip
    for name, runs in results.items():
        rate, seconds, accuracy, outside = (statistics.median(r[i] for r in runs) for i in range(4))
        each = ", ".join(f"{r[2]:.3f}" for r in runs)
        print(f"{name:24s} {rate:8.0f} img/s  {seconds:6.1f} s ({outside:4.1f} s outside the "
              f"loop)  val accuracy {accuracy:.3f} (runs: {each})")  # fmt: skip
    (one, one_wall), (two, two_wall) = (
        (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        for runs in results.values()
    )
    print(f"2 processes against 1: {one_wall / two_wall:.2f}x on the wall clock (start-up and "
          f"validation included); {two / one:.2f}x training images/s")  # fmt: skip


if __name__ == "__main__":
    main()
