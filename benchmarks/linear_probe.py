"""A linear probe against one epoch of full fine-tuning, at equal batch size.

ResNet-18 (small-input stem) on the generated 32x32 gratings of `train_throughput.py`
(1,000 train / 500 val images, batch 64): the time of one epoch of full training against
the time of a whole linear probe: the first ("cold": one pass of feature extraction over
the training and validation images, then at most `probe_epochs` full-batch L-BFGS
iterations of the head on the features) and the following ones from the same body
("warm": the features come from the dataset's cache). Goal (issue 13): the probe at least
20x faster than the epoch.

    python benchmarks/linear_probe.py [--train 1000] [--probe-epochs 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from lumos.data import Dataset, import_dataset
from lumos.train import Recipe
from lumos.train.trainer import Trainer
from lumos.workspace import Workspace
from machine import print_machine
from train_throughput import write_cifar


def timed(recipe: Recipe, dataset: Dataset) -> tuple[float, float]:
    """Seconds of ``fit()`` (the model built beforehand) and the validation accuracy."""
    trainer = Trainer(recipe, dataset)
    started = time.perf_counter()
    state = trainer.fit()
    return time.perf_counter() - started, state.history[-1]["val_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--val", type=int, default=500)
    parser.add_argument("--probe-epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws").ensure()
        write_cifar(Path(tmp) / "gratings", args.train, args.val)
        import_dataset(Path(tmp) / "gratings", "gratings", workspace=workspace)
        dataset = Dataset.open("gratings", workspace)
        base = {"dataset": "gratings", "network": "resnet18", "batch_size": 64, "workers": 1,
                "lr": 0.05, "probe_epochs": args.probe_epochs}  # fmt: skip
        full = [timed(Recipe(**base, epochs=1), dataset) for _ in range(args.repeats)]
        cold, *warm = [
            timed(Recipe(**base, epochs=1, finetune="linear-probe"), dataset)
            for _ in range(args.repeats + 1)
        ]
    epoch = statistics.median(t for t, _ in full)
    probe = statistics.median(t for t, _ in warm)
    print(f"ResNet-18, 32x32, {args.train} train images, batch 64, median of {args.repeats}")
    print(f"one epoch of full training: {epoch:7.2f} s  (val accuracy {full[-1][1]:.3f})")
    print(f"linear probe, cold ({args.probe_epochs} L-BFGS iterations): {cold[0]:7.2f} s  "
          f"(val accuracy {cold[1]:.3f}, random features)")  # fmt: skip
    print(f"linear probe, warm (features cached): {probe:7.2f} s  (val accuracy {warm[-1][1]:.3f})")
    print(
        f"speed-up over one epoch: cold {epoch / cold[0]:.1f}x, warm {epoch / probe:.1f}x  "
        "(goal >= 20x)"
    )


if __name__ == "__main__":
    main()
