"""INT8 against fp32 for the shapes detector: test mAP50 and batch-1 ONNX Runtime latency.

For each of ``--seeds`` (two at a time, one thread each): trains the demo's detector (FCOS
ResNet-18-FPN, 128x128, ``--minutes`` of training with the demo's recipe, or ``--network``),
saves it and makes its INT8 artefact with ``lumos optimize`` (calibrated on its training
images; convolutions quantised, decoding and NMS in fp32). Both graphs' boxes on the test
split give each one's mAP50 and a paired 95% bootstrap interval of the difference over test
images and seeds. Then, alone on the machine, times the fp32 export and the INT8 artefact
at batch 1 as ``lumos bench`` does, on one thread and on every core (medians over seeds).
Goal: INT8 >= 2x faster with at most 1 point of test mAP50 lost.

    python benchmarks/detector_int8.py [--minutes 6] [--seeds 0,1,2,3,4] [--network NAME]
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

from bootstrap import intervals
from machine import print_machine

GRAPHS = ("fp32", "int8")


def train_one(workspace: Path, network: str, minutes: float, seed: int, out: Path) -> None:
    """Train, save and quantise seed ``seed``; write both graphs' boxes on the test split."""
    import torch

    from lumos.data import Dataset
    from lumos.demo import DETECTION_RECIPE
    from lumos.deploy import Bundle
    from lumos.deploy.from_job import bundle_from_job
    from lumos.deploy.optimize import run_optimization
    from lumos.deploy.runtime import predictor_for
    from lumos.tasks.detection.scoring import graph_detections
    from lumos.train import train
    from lumos.workspace import Workspace

    torch.set_num_threads(1)
    home = Workspace(workspace)
    recipe = DETECTION_RECIPE.model_copy(
        update={"network": network, "epochs": 10_000, "time_limit": minutes, "seed": seed,
                "workers": 0}
    )  # fmt: skip
    name = f"detector-{seed}"
    bundle_from_job(train(recipe, workspace=home, progress=False).id, name, workspace=home)
    run_optimization(name, precision="int8", workspace=home)
    bundle = Bundle.load(name, home)
    test = Dataset.open("shapes", home).split("test")
    found = {}
    for graph, target in zip(GRAPHS, ("onnxruntime", "onnxruntime:int8"), strict=True):
        _, boxes = graph_detections(bundle, predictor_for(bundle, target).outputs, test)
        found[graph] = [{k: v.tolist() for k, v in b.items()} for b in boxes]
    (out / f"seed-{seed}.json").write_text(json.dumps(found))


def median_ms(graph: Path | str, batch: np.ndarray, threads: int) -> float:
    from lumos.deploy.bench import time_batches
    from lumos.deploy.sessions import onnx_session

    session = onnx_session(graph, threads=threads)
    times = time_batches(lambda b: session.run(None, {"images": b}), batch, min_seconds=3)
    return statistics.median(times) * 1000


def scored(workspace: Path, runs: list[dict]) -> None:
    """Each graph's test mAP50 per seed, and the paired interval of the difference."""
    from lumos.data import Dataset
    from lumos.data.loader import BatchLoader
    from lumos.tasks.detection.coco import coco_documents, coco_metrics
    from lumos.workspace import Workspace

    part = Dataset.open("shapes", Workspace(workspace)).split("test")
    truths = [t for _, targets in BatchLoader(part, 16, targets="boxes") for t in targets]

    def map50(images, found) -> float:
        picked = [truths[i] for i in images]
        return coco_metrics(*coco_documents(picked, [found[i] for i in images], part.classes))[
            "map_50"
        ]

    every = np.arange(len(truths))
    for graph in GRAPHS:
        print(f"test mAP50, {graph}: " + ", ".join(f"{map50(every, r[graph]):.3f}" for r in runs))

    def mean_map(graph: str):
        return lambda images, seeds: statistics.fmean(map50(images, runs[s][graph]) for s in seeds)

    found = intervals({g: mean_map(g) for g in GRAPHS}, len(truths), len(runs), resamples=500)
    for name, (low, high) in found.items():
        print(f"95% bootstrap interval of test mAP50, {name}: [{low:.3f}, {high:.3f}]")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--network", default="fcos_resnet18_fpn")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        train_one(Path(args.workspace), args.network, args.minutes, args.worker, Path(args.out))
        return
    print_machine()
    from lumos.data import import_dataset
    from lumos.deploy import Bundle
    from lumos.deploy.export import current_onnx, example_input
    from lumos.workspace import Workspace

    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        home = Workspace(Path(scratch) / "workspace").ensure()
        import_dataset("sample:shapes", "shapes", workspace=home)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        for pair in (seeds[i : i + 2] for i in range(0, len(seeds), 2)):
            workers = [
                subprocess.Popen([sys.executable, __file__, "--worker", str(seed), "--workspace",
                                  str(home.root), "--out", scratch, "--network", args.network,
                                  "--minutes", str(args.minutes)], env=env)
                for seed in pair
            ]  # fmt: skip
            if any(w.wait() for w in workers):
                sys.exit("a training failed")
        scored(home.root, [json.loads((Path(scratch) / f"seed-{s}.json").read_text())
                           for s in seeds])  # fmt: skip
        for threads in sorted({1, len(os.sched_getaffinity(0))}):
            speeds = []
            for seed in seeds:
                bundle = Bundle.load(f"detector-{seed}", home)
                batch = example_input(bundle, 1).numpy()
                fp32 = median_ms(current_onnx(bundle), batch, threads)
                speeds.append((fp32, median_ms(bundle.artefact("int8"), batch, threads)))
            fp32, int8 = (statistics.median(s[k] for s in speeds) for k in (0, 1))
            print(f"batch 1, {threads} thread(s), medians over seeds: fp32 {fp32:.2f} ms, "
                  f"int8 {int8:.2f} ms: {fp32 / int8:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
