"""INT8 against fp32 for the shapes detector: test mAP50 and batch-1 ONNX Runtime latency.

Trains the demo's detector (FCOS ResNet-18-FPN, 128x128, ``--minutes`` of training with the
demo's recipe, or ``--network``), saves it, makes its INT8 artefact with ``lumos optimize``
(calibrated on its training images; convolutions quantised, decoding and NMS in fp32), and
times the fp32 export and the INT8 artefact at batch 1 as ``lumos bench`` does, on one
thread and on every core. Goal: INT8 >= 2x faster with at most 1 point of test mAP50 lost.

    python benchmarks/detector_int8.py [--minutes 6] [--network fcos_resnet18_fpn]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np

from lumos.data import import_dataset
from lumos.demo import DETECTION_RECIPE
from lumos.deploy import Bundle
from lumos.deploy.bench import time_batches
from lumos.deploy.export import current_onnx, example_input
from lumos.deploy.from_job import bundle_from_job
from lumos.deploy.optimize import run_optimization
from lumos.deploy.sessions import onnx_session
from lumos.train import train
from lumos.workspace import Workspace
from machine import print_machine


def median_ms(graph: Path | str, batch: np.ndarray, threads: int) -> float:
    session = onnx_session(graph, threads=threads)
    times = time_batches(lambda b: session.run(None, {"images": b}), batch, min_seconds=3)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--network", default=DETECTION_RECIPE.network)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as scratch:
        home = Workspace(Path(scratch)).ensure()
        import_dataset("sample:shapes", "shapes", workspace=home)
        recipe = DETECTION_RECIPE.model_copy(
            update={"network": args.network, "epochs": 10_000, "time_limit": args.minutes,
                    "seed": args.seed}
        )  # fmt: skip
        job = train(recipe, workspace=home, progress=False)
        bundle_from_job(job.id, "shapes-fcos", workspace=home)
        int8 = run_optimization("shapes-fcos", precision="int8", workspace=home)
        bundle = Bundle.load("shapes-fcos", home)
        batch = example_input(bundle, 1).numpy()
        fp32_file, int8_file = current_onnx(bundle), bundle.artefact("int8")
        print(f"{args.network} {recipe.input_size}: test {int8.metric} fp32 {int8.baseline:.3f}, "
              f"int8 {int8.score:.3f} ({100 * int8.delta:+.1f} points); "
              f"{int8.layers.fused} fused nodes, {int8.size_bytes / 1e6:.1f} MB")  # fmt: skip
        for threads in sorted({1, len(os.sched_getaffinity(0))}):
            fp32 = median_ms(fp32_file, batch, threads)
            quantised = median_ms(int8_file, batch, threads)
            speed = fp32 / quantised
            verdict = "met" if speed >= 2 and int8.delta >= -0.01 else "NOT met"
            print(f"  batch 1, {threads} thread(s): fp32 {fp32:.2f} ms, int8 {quantised:.2f} ms: "
                  f"{speed:.2f}x (goal >= 2x, <= 1 point lost: {verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
