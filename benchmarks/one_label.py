"""The detectors' one-label-per-object rule, judged on the validation split only.

A detector keeps the best of any boxes that overlap by IoU > 0.7, whatever their classes
(``lumos.models.normalization.one_label_per_object``). That rule was chosen in issue 4 on
the test split's operating point; this benchmark makes the choice again on validation. It
trains the demo's detector on the shapes sample for each ``--seeds`` (two at a time, one
thread each), then on the val split scores every model's boxes with and without the rule:
mAP50, and precision, recall and F1 at the score threshold each variant tunes on val (the
best F1, as a saved model does). The operating point is what a user meets, so the choice is
the variant with the higher mean val F1, unless the paired 95% bootstrap interval of the
difference (val images and seeds) holds zero: then "not distinguishable", and the rule
stays. The test split is read once, at the end, for the variant chosen.

    python benchmarks/one_label.py [--seeds 0,1,2] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from bootstrap import intervals
from machine import print_machine

VARIANTS = ("with the rule", "without")


def train_one(workspace: Path, seed: int, changes: dict, out: Path) -> None:
    """Train seed ``seed`` and write its boxes on val and test, with and without the rule."""
    import torch

    from lumos.data import Dataset
    from lumos.data.loader import BatchLoader
    from lumos.demo import DETECTION_RECIPE
    from lumos.deploy import Bundle
    from lumos.deploy.from_job import bundle_from_job
    from lumos.tasks.detection.scoring import detect_split
    from lumos.train import Recipe, train
    from lumos.workspace import Workspace

    torch.set_num_threads(1)
    home = Workspace(workspace)
    recipe = Recipe(**{**DETECTION_RECIPE.model_dump(), "seed": seed, "workers": 0, **changes})
    job = train(recipe, workspace=home, progress=False)
    bundle_from_job(job.id, f"detector-{seed}", workspace=home, overwrite=True)
    bundle = Bundle.load(f"detector-{seed}", home)
    model = bundle.model()
    finders = {
        VARIANTS[0]: model,
        VARIANTS[1]: lambda images: model.net(list(model.normalize(images))),
    }
    found = {}
    for split in ("val", "test"):
        loader = BatchLoader(Dataset.open("shapes", home).split(split), 16, targets="boxes")
        for variant, finder in finders.items():
            with torch.no_grad():
                _, boxes = detect_split(finder, loader, bundle.preprocessing.input_size)
            found[f"{split}/{variant}"] = [{k: v.tolist() for k, v in b.items()} for b in boxes]
    (out / f"seed-{seed}.json").write_text(json.dumps(found))


def truths_of(workspace: Path, split: str) -> tuple[list[dict], list[str]]:
    from lumos.data import Dataset
    from lumos.data.loader import BatchLoader
    from lumos.workspace import Workspace

    part = Dataset.open("shapes", Workspace(workspace)).split(split)
    return [t for _, targets in BatchLoader(part, 16, targets="boxes") for t in targets], (
        part.classes
    )


def scores(truths: list[dict], found: list[dict], classes: list[str], threshold: float):
    """mAP50 and the operating point at ``threshold``."""
    from lumos.tasks.detection.coco import coco_documents, coco_metrics, operating_point

    documents = coco_documents(truths, found, classes)
    return coco_metrics(*documents)["map_50"], operating_point(*documents, threshold)


def tuned(truths: list[dict], found: list[dict], classes: list[str]) -> float:
    from lumos.tasks.detection.coco import best_threshold, coco_documents

    return best_threshold(*coco_documents(truths, found, classes))


def judge(workspace: Path, runs: list[dict]) -> None:
    """The choice on val, then the chosen variant's test scores."""
    val, classes = truths_of(workspace, "val")
    thresholds = {v: [tuned(val, r[f"val/{v}"], classes) for r in runs] for v in VARIANTS}
    for variant in VARIANTS:
        rows = [
            scores(val, r[f"val/{variant}"], classes, t)
            for r, t in zip(runs, thresholds[variant], strict=True)
        ]
        print(f"val, {variant:13s}: mAP50 {statistics.fmean(m for m, _ in rows):.3f}, at the "
              f"val-tuned threshold (" + ", ".join(f"{t:.2f}" for t in thresholds[variant])
              + f") precision {statistics.fmean(p['precision'] for _, p in rows):.3f}, recall "
              f"{statistics.fmean(p['recall'] for _, p in rows):.3f}, F1 "
              f"{statistics.fmean(p['f1'] for _, p in rows):.3f}")  # fmt: skip

    def f1(variant: str):
        def score(images: np.ndarray, seeds: np.ndarray) -> float:
            picked = [val[i] for i in images]
            return statistics.fmean(
                scores(picked, [runs[s][f"val/{variant}"][i] for i in images], classes,
                       thresholds[variant][s])[1]["f1"]
                for s in seeds
            )  # fmt: skip

        return score

    found = intervals({v: f1(v) for v in VARIANTS}, len(val), len(runs), resamples=500)
    for name, (low, high) in found.items():
        print(f"95% bootstrap interval of val F1, {name}: [{low:.3f}, {high:.3f}]")
    low, high = found[f"{VARIANTS[0]} - {VARIANTS[1]}"]
    chosen = VARIANTS[0] if high >= 0 else VARIANTS[1]
    said = "not distinguishable: the rule stays" if low <= 0 <= high else f"{chosen} is better"
    print(f"choice on val: {said}")
    test, _ = truths_of(workspace, "test")
    rows = [
        scores(test, r[f"test/{chosen}"], classes, t)
        for r, t in zip(runs, thresholds[chosen], strict=True)
    ]
    print(f"test, read once, {chosen}: mAP50 "
          + ", ".join(f"{m:.3f}" for m, _ in rows) + "; precision "
          + ", ".join(f"{p['precision']:.3f}" for _, p in rows) + "; recall "
          + ", ".join(f"{p['recall']:.3f}" for _, p in rows))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    changes = {
        k: v for item in args.set for k, v in yaml.safe_load(item.replace("=", ": ", 1)).items()
    }
    if args.worker is not None:
        return train_one(Path(args.workspace), args.worker, changes, Path(args.out))
    print_machine()
    from lumos.data import import_dataset
    from lumos.workspace import Workspace

    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        home = Workspace(root / "workspace").ensure()
        import_dataset("sample:shapes", "shapes", workspace=home)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        sets = [a for item in args.set for a in ("--set", item)]
        for pair in (seeds[i : i + 2] for i in range(0, len(seeds), 2)):
            workers = [
                subprocess.Popen([sys.executable, __file__, "--worker", str(seed), "--workspace",
                                  str(home.root), "--out", scratch, *sets], env=env)
                for seed in pair
            ]  # fmt: skip
            if any(w.wait() for w in workers):
                sys.exit("a training failed")
            print(f"trained seeds {pair}", flush=True)
        runs = [json.loads((root / f"seed-{s}.json").read_text()) for s in seeds]
        judge(home.root, runs)


if __name__ == "__main__":
    main()
