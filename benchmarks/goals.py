"""Issue 4's goals on the built-in shapes sample: a detector and a segmenter, time to score,
as mean and spread over seeds, at each arithmetic asked for.

(a) FCOS (ResNet-18 FPN) with the demo's recipe: 40 epochs at 96x96. Goal: val mAP50 >= 0.8;
    at the operating point the bundle stores (score threshold with the best F1 on val),
    precision and recall >= 0.9 on test.
(b) Semantic FPN (ResNet-18) for 16 epochs at lr 0.001. Goal: val mIoU >= 0.7.
Each run prints its best validation score, the test scores and the training time; a summary
gives mean, standard deviation and range per network and arithmetic. The test split holds 30
images, so one image is about 0.03 of a test score.

    python benchmarks/goals.py [--only detector|segmenter] [--seeds 0,1,2]
                               [--precision fp32,bf16] [--threads N] [--set epochs=8 ...]

bf16 on a CPU without native bf16 (AVX2 only) is emulated and slow: use ``--set epochs=N``
for the smallest run that shows a difference there.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from lumos.data import import_dataset
from lumos.demo import DETECTION_RECIPE
from lumos.deploy.from_job import bundle_from_job
from lumos.evaluate.run import run_evaluation
from lumos.train import Recipe, train
from lumos.train.callbacks import METRICS, read_metrics
from lumos.workspace import Workspace
from machine import print_machine

SEGMENTATION_RECIPE = Recipe(
    dataset="shapes", network="fpn_resnet18", epochs=16, batch_size=8, optimizer="adamw",
    lr=0.001, weight_decay=1e-4, warmup_epochs=1, hflip=True, vflip=True, workers=1,
)  # fmt: skip
GOALS = {
    "detector": (DETECTION_RECIPE, "val_map_50", ("map_50", "precision", "recall"), 0.8),
    "segmenter": (SEGMENTATION_RECIPE, "val_miou", ("miou",), 0.7),
}


def measure(name: str, workspace: Workspace, seed: int, precision: str, changes: dict):
    """One training of goal ``name``: (seconds, best val score, test scores)."""
    recipe, metric, test_metrics, goal = GOALS[name]
    update = {"dataset": "shapes", "seed": seed, "precision": precision, **changes}
    start = time.perf_counter()
    job = train(recipe.model_copy(update=update), workspace=workspace, progress=False)
    seconds = time.perf_counter() - start
    best = max(
        r.get(metric, 0.0) for r in read_metrics(job.folder / METRICS) if r["kind"] == "epoch"
    )
    model = f"{name}-{precision}-{seed}"
    bundle_from_job(job.id, model, workspace=workspace, overwrite=True)
    report, _ = run_evaluation(
        model, "shapes", "test", workspace=workspace, out=workspace.root / "eval" / model
    )
    scores = {m: report.metrics[m] for m in test_metrics if m in report.metrics}
    verdict = "met" if best >= goal else "NOT met"
    tested = ", ".join(f"{m} {v:.3f}" for m, v in scores.items())
    print(
        f"{name} {precision} seed {seed}: {recipe.network}, {changes or 'as is'} in "
        f"{seconds:.0f} s: best {metric} {best:.3f} (goal >= {goal}: {verdict}); test {tested}",
        flush=True,
    )
    return seconds, best, scores


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f} ± {sd:.3f} [{min(values):.3f}, {max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=sorted(GOALS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--precision", default="fp32", help="comma-separated: fp32,bf16")
    parser.add_argument("--threads", type=int, help="intra-op threads (default: torch's)")
    parser.add_argument("--workspace", type=Path, help="keep the jobs and models here")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="change the recipe"
    )
    args = parser.parse_args()
    print_machine()
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    changes = {
        k: v for item in args.set for k, v in yaml.safe_load(item.replace("=", ": ", 1)).items()
    }
    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace(args.workspace or Path(scratch)).ensure()
        import_dataset("sample:shapes", "shapes", workspace=workspace, overwrite=True)
        for name in GOALS:
            if args.only not in (None, name):
                continue
            for precision in args.precision.split(","):
                runs = [measure(name, workspace, s, precision, changes) for s in seeds]
                metric = GOALS[name][1]
                print(
                    f"== {name} {precision}, seeds {args.seeds}: "
                    f"{metric} {spread([r[1] for r in runs])}; "
                    + "; ".join(f"test {m} {spread([r[2][m] for r in runs])}" for m in runs[0][2])
                    + f"; seconds {statistics.median(r[0] for r in runs):.0f} (median)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
