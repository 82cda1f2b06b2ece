"""Issue 4's goals on the built-in shapes sample: a detector and a segmenter, time to score.

(a) FCOS (ResNet-18 FPN) with the demo's recipe: 24 epochs at 96x96. Goal: val mAP50 >= 0.8.
(b) Semantic FPN (ResNet-18) for 16 epochs. Goal: val mIoU >= 0.7.
Each prints its best validation score, the score on the test split and the training time;
the test suite checks the same pipelines on smaller data in seconds.

    python benchmarks/goals.py [--only detector|segmenter]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lumos.data import import_dataset
from lumos.demo import DETECTION_RECIPE
from lumos.deploy.from_job import bundle_from_job
from lumos.evaluate.run import run_evaluation
from lumos.train import Recipe, train
from lumos.train.callbacks import METRICS, read_metrics
from lumos.workspace import Workspace

SEGMENTATION_RECIPE = Recipe(
    dataset="shapes", network="fpn_resnet18", epochs=16, batch_size=8, optimizer="adamw",
    lr=0.002, weight_decay=1e-4, warmup_epochs=1, hflip=True, vflip=True, workers=1,
)  # fmt: skip
GOALS = {
    "detector": (DETECTION_RECIPE, "val_map_50", "map_50", 0.8),
    "segmenter": (SEGMENTATION_RECIPE, "val_miou", "miou", 0.7),
}


def measure(name: str, root: Path) -> None:
    recipe, metric, test_metric, goal = GOALS[name]
    workspace = Workspace(root).ensure()
    import_dataset("sample:shapes", "shapes", workspace=workspace)
    start = time.perf_counter()
    job = train(
        recipe.model_copy(update={"dataset": "shapes"}), workspace=workspace, progress=False
    )
    seconds = time.perf_counter() - start
    best = max(
        r.get(metric, 0.0) for r in read_metrics(job.folder / METRICS) if r["kind"] == "epoch"
    )
    bundle_from_job(job.id, name, workspace=workspace)
    report, _ = run_evaluation(name, "shapes", "test", workspace=workspace, out=root / "eval")
    score = report.metrics[test_metric]
    verdict = "met" if best >= goal else "NOT met"
    print(
        f"{name}: {recipe.network}, {recipe.epochs} epochs in {seconds:.0f} s: best {metric} "
        f"{best:.3f} (goal >= {goal}: {verdict}); test {test_metric} {score:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=sorted(GOALS))
    args = parser.parse_args()
    for name in GOALS:
        if args.only in (None, name):
            with tempfile.TemporaryDirectory() as scratch:
                measure(name, Path(scratch))


if __name__ == "__main__":
    main()
