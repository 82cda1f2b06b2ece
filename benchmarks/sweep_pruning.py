"""Median pruning against none: the same random sweep (same seed, so the same trials) on
sklearn's digits with LeNet-5, 10 epochs a trial, once without pruning and once with
Optuna's median pruner. Prints each sweep's best validation accuracy and the epochs it
trained, and the ratio.

    python benchmarks/sweep_pruning.py [--trials 20] [--epochs 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lumos.data import import_dataset
from lumos.recipe import Recipe
from lumos.sweep import create_sweep, work_on
from lumos.sweep.report import best_row, rows
from lumos.workspace import Workspace
from machine import print_machine

PARAMS = ["lr=log:1e-3:1.0", "batch_size=16,32,64", "momentum=0.5:0.95"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3, help="sweeps of each kind, seeds 0..N-1")
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws").ensure()
        import_dataset("sample:digits", "digits", workspace=workspace)
        recipe = Recipe(dataset="digits", network="lenet5", epochs=args.epochs, workers=0,
                        precision="fp32", checkpoint_minutes=0)  # fmt: skip
        for seed in range(args.seeds):
            found = {}
            for prune in ("none", "median"):
                sweep = create_sweep(recipe, PARAMS, name=f"prune-{prune}-{seed}",
                                     trials=args.trials, sampler="random", prune=prune,
                                     workspace=workspace)  # fmt: skip
                started = time.perf_counter()
                work_on(sweep, workspace, seed=seed)
                trials = rows(sweep)
                best = best_row(sweep, trials)
                assert best is not None
                epochs = sum(t.epochs or 0 for t in trials)
                found[prune] = (best.value, epochs)
                pruned = sum(t.state == "pruned" for t in trials)
                print(f"seed {seed} prune {prune:6s}: best val_accuracy {best.value:.4f} (trial "
                      f"{best.number}), {epochs} epochs, {pruned} trials pruned, "
                      f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            (full, full_epochs), (cut, cut_epochs) = found["none"], found["median"]
            print(f"seed {seed} median pruning: best {100 * (cut - full):+.2f} points, "
                  f"{cut_epochs / full_epochs:.0%} of the epochs")  # fmt: skip


if __name__ == "__main__":
    main()
