"""The whole loop on built-in data, as ``make demo`` runs it: import both samples and draw
their grids, train LeNet-5 on digits, save it, evaluate it on the test split, and classify a
few test images."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from lumos.data import Dataset, import_dataset, sample_grid
from lumos.data.importer import ProgressFn
from lumos.deploy import Bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.evaluate import run_evaluation
from lumos.train import Recipe, train

DEMO_RECIPE = Recipe(
    dataset="digits", network="lenet5", epochs=12, batch_size=32, lr=0.05, rotation=10
)
MODEL = "digits-lenet"


def run_demo(
    out_dir: Path,
    *,
    say: Callable[[str], None] = print,
    import_progress: Callable[[], AbstractContextManager[ProgressFn | None]] = lambda: (
        contextlib.nullcontext()
    ),
    training_progress: bool = True,
) -> dict[str, float]:
    """Run the demo, telling ``say`` what happens; returns the test metrics."""
    for sample in ("digits", "shapes"):
        with import_progress() as progress:
            folder = import_dataset(f"sample:{sample}", sample, overwrite=True, progress=progress)
        dataset = Dataset(folder)
        say(dataset.summary())
        say(f"wrote {sample_grid(dataset, out_dir / f'{sample}-grid.png', count=36)}")
    say(f"training {DEMO_RECIPE.network} on {DEMO_RECIPE.dataset}")
    job = train(DEMO_RECIPE, progress=training_progress)
    bundle_from_job(job.id, MODEL, overwrite=True)
    report, folder = run_evaluation(MODEL, "digits", "test", out=out_dir / f"{MODEL}-test")
    metrics = report.metrics
    say(f"test top-1 {metrics['top1']:.2%}, top-5 {metrics['top5']:.2%}; report in {folder}")
    test = Dataset.open("digits").split("test")
    samples = [test[i] for i in range(5)]
    predictions = Bundle.load(MODEL).predict([s.image for s in samples], top=1)
    for sample, prediction in zip(samples, predictions, strict=True):
        label, probability = prediction.top[0]
        say(f"  {sample.source}: {label}  {probability:.2%}  (true {test.classes[sample.label]})")
    return metrics
