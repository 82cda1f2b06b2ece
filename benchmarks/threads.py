"""Threads: a second process on the machine must not stop lumos (issue 11, 1b).

Trains ResNet-18 on generated 32x32 gratings (as benchmarks/train_throughput.py) as queued
jobs of the job runner, each in its own worker process with its thread budget:
(a) two trainings one after the other (runner with one training slot): the baseline;
(b) the same two started together (two slots): each gets half the cores;
    goal: (b) takes <= 1.1x the time of (a);
(c) one training alone, then (d) the same beside a busy process (a one-thread matrix
    multiplication loop, as another user's job would be);
    goal: (d) keeps >= 0.4x of (c)'s images/s.
(e) as (d) with OpenMP left spinning (OMP_WAIT_POLICY unset), for comparison.

    python benchmarks/threads.py [--train 1000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lumos.runner
from lumos.data import import_dataset
from lumos.jobs import open_job
from lumos.runner import JobRunner
from lumos.threads import cores
from lumos.train import Recipe
from lumos.train.callbacks import METRICS, read_metrics
from lumos.train.run import queue_training
from lumos.workspace import Workspace
from machine import print_machine
from train_throughput import write_cifar

BUSY = (
    "import torch, time; torch.set_num_threads(1); a = torch.rand(512, 512)\n"
    "end = time.monotonic() + 600\n"
    "while time.monotonic() < end: a @ a"
)


def run_jobs(workspace: Workspace, recipe: Recipe, count: int, slots: int) -> float:
    """Queue ``count`` trainings, run them with ``slots`` training slots; wall seconds."""
    jobs = [queue_training(recipe, workspace) for _ in range(count)]
    runner = JobRunner(workspace, max_training=slots, interval=0.1)
    start = time.perf_counter()
    runner.start()
    while any(open_job(workspace, j.id).state in ("queued", "running") for j in jobs):
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    runner.stop()
    runner.wait()
    for job in jobs:
        done = open_job(workspace, job.id)
        assert done.state == "done", (done.folder / "output.txt").read_text()
    return seconds


def images_per_second(workspace: Workspace, recipe: Recipe) -> float:
    """Median images/s over the step records of one queued training."""
    run_jobs(workspace, recipe, 1, 1)
    job_id = sorted(workspace.jobs_dir.iterdir())[-1].name
    records = read_metrics(workspace.jobs_dir / job_id / METRICS)
    return statistics.median(r["images_per_s"] for r in records if r["kind"] == "step")


def beside_busy(workspace: Workspace, recipe: Recipe, *, spin: bool = False) -> float:
    """Images/s of one training while a busy process holds a core; ``spin``: with the
    workers' OpenMP threads spinning while they wait, PyTorch's default."""
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    original = lumos.runner.worker_environment
    if spin:
        lumos.runner.worker_environment = lambda threads: {
            k: v for k, v in original(threads).items() if k != "OMP_WAIT_POLICY"
        }
    try:
        time.sleep(1)
        return images_per_second(workspace, recipe)
    finally:
        lumos.runner.worker_environment = original
        busy.kill()
        busy.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws").ensure()
        write_cifar(Path(tmp) / "gratings", args.train, 200)
        import_dataset(Path(tmp) / "gratings", "gratings", workspace=workspace, test_percent=0)
        recipe = Recipe(
            dataset="gratings", network="resnet18", epochs=args.epochs, batch_size=64,
            lr=0.05, precision="fp32",
        )  # fmt: skip
        one_after_other = run_jobs(workspace, recipe, 2, 1)
        together = run_jobs(workspace, recipe, 2, 2)
        alone = images_per_second(workspace, recipe)
        busy = beside_busy(workspace, recipe)
        spinning = beside_busy(workspace, recipe, spin=True)
    print(f"ResNet-18 fp32, 32x32, {args.train} images, {args.epochs} epochs; {cores()} cores")
    print(f"(a) two trainings one after the other: {one_after_other:6.1f} s")
    print(f"(b) the same two together:             {together:6.1f} s")
    print(
        f"    together / one after the other:    {together / one_after_other:.2f}x  (goal <= 1.1)"
    )
    print(f"(c) one training alone:                {alone:6.1f} img/s")
    print(f"(d) beside a busy process:             {busy:6.1f} img/s")
    print(f"    busy / alone:                      {busy / alone:.2f}x  (goal >= 0.4)")
    print(f"(e) beside it, OpenMP spinning:        {spinning:6.1f} img/s = {spinning / alone:.2f}x")


if __name__ == "__main__":
    main()
