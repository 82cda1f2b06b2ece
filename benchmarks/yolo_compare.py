"""lumos's light detector against Ultralytics YOLOv8n at equal training time on shapes.

Both train from scratch on the built-in ``shapes`` sample (225 train / 45 val / 30 test
images) at 96x96, side by side on the machine's cores with one thread each, for the same
``--minutes`` (lumos: the recipe's ``time_limit``; Ultralytics: its ``time``); each sets
its epochs to what fits. lumos trains ``--network`` with the demo's detection recipe;
YOLOv8n is built from Ultralytics' ``yolov8n.yaml`` (no pretrained weights) and trained
with its own defaults on lumos's YOLO export of the same splits. Both are scored on the
test split by lumos's COCO evaluator (YOLO's boxes at its validation settings, conf 0.001,
IoU 0.7). Batch-1 latency: each model's ONNX graph on ONNX Runtime, one thread, median of
``--runs`` calls (lumos's graph includes decoding and NMS; YOLOv8n's, as Ultralytics
exports it, decoding without NMS). Ultralytics (AGPL) is a benchmark extra, never a
dependency of lumos.

    python benchmarks/yolo_compare.py [--minutes 5] [--seeds 0,1,2] [--network NAME]
                                      [--precision fp32|bf16|auto]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = 96
CLASSES_FILE = "data.yaml"


def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def train_lumos(
    workspace: Path, network: str, precision: str, minutes: float, seed: int, out: Path
) -> dict:
    from lumos.demo import DETECTION_RECIPE
    from lumos.deploy import Bundle
    from lumos.deploy.export import export_bundle
    from lumos.deploy.from_job import bundle_from_job
    from lumos.evaluate import run_evaluation
    from lumos.train import train
    from lumos.train.callbacks import METRICS, read_metrics
    from lumos.workspace import Workspace

    one_thread()
    home = Workspace(workspace)
    recipe = DETECTION_RECIPE.model_copy(
        update={"network": network, "input_size": (SIZE, SIZE), "epochs": 10_000,
                "time_limit": minutes, "seed": seed, "workers": 0, "precision": precision}
    )  # fmt: skip
    start = time.perf_counter()
    job = train(recipe, workspace=home, progress=False)
    seconds = time.perf_counter() - start
    name = f"light-{seed}"
    bundle_from_job(job.id, name, workspace=home, overwrite=True)
    report, _ = run_evaluation(name, "shapes", "test", workspace=home, out=out / name)
    bundle = Bundle.load(name, home)
    export_bundle(bundle, out / f"{name}.onnx")
    epochs = sum(r["kind"] == "epoch" for r in read_metrics(job.folder / METRICS))
    return {"map_50": report.metrics["map_50"], "seconds": seconds, "epochs": epochs,
            "onnx": str(out / f"{name}.onnx")}  # fmt: skip


def train_yolo(workspace: Path, data: Path, minutes: float, seed: int, out: Path) -> dict:
    os.environ["YOLO_CONFIG_DIR"] = str(out / "ultralytics-settings")
    os.environ["YOLO_OFFLINE"] = "1"
    import torch
    from ultralytics import YOLO

    one_thread()
    start = time.perf_counter()
    model = YOLO("yolov8n.yaml")
    model.train(
        data=str(data), imgsz=SIZE, epochs=10_000, time=minutes / 60, device="cpu", workers=0,
        seed=seed, pretrained=False, amp=False, plots=False, project=str(out / "yolo"),
        name=f"seed{seed}", exist_ok=True, verbose=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    best = YOLO(str(out / "yolo" / f"seed{seed}" / "weights" / "best.pt"))
    truths, found = yolo_detections(workspace, best)
    network = best.model.eval()
    for module in network.modules():
        if hasattr(module, "export"):
            module.export = True
    onnx_file = out / f"yolov8n-{seed}.onnx"
    example = torch.rand(1, 3, SIZE, SIZE)
    network(example)
    torch.onnx.export(network, (example,), str(onnx_file), dynamo=False, opset_version=17)
    epochs = len((out / "yolo" / f"seed{seed}" / "results.csv").read_text().splitlines()) - 1
    return {"map_50": score(workspace, truths, found), "seconds": seconds, "epochs": epochs,
            "onnx": str(onnx_file)}  # fmt: skip


def yolo_detections(workspace: Path, model) -> tuple[list, list]:
    """The test split's stored boxes and YOLO's boxes for each image, in stored pixels."""
    from lumos.data import Dataset
    from lumos.data.loader import BatchLoader
    from lumos.workspace import Workspace

    part = Dataset.open("shapes", Workspace(workspace)).split("test")
    truths = [t for _, targets in BatchLoader(part, 16, targets="boxes") for t in targets]
    found = []
    for image in part.images(np.arange(len(part))):
        result = model.predict(image[:, :, ::-1], imgsz=SIZE, conf=0.001, iou=0.7, verbose=False)
        boxes = result[0].boxes
        found.append({"boxes": boxes.xyxy.numpy(), "labels": boxes.cls.numpy().astype(int),
                      "scores": boxes.conf.numpy()})  # fmt: skip
    return truths, found


def score(workspace: Path, truths: list, found: list) -> float:
    from lumos.data import Dataset
    from lumos.tasks.detection.coco import coco_documents, coco_metrics
    from lumos.workspace import Workspace

    classes = Dataset.open("shapes", Workspace(workspace)).classes
    return coco_metrics(*coco_documents(truths, found, classes))["map_50"]


def latency_ms(onnx_file: str, runs: int) -> float:
    """Median batch-1 call of an ONNX graph on ONNX Runtime with one thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.random.default_rng(0).random(
        (1, 3, SIZE, SIZE), dtype=np.float32)}  # fmt: skip
    for _ in range(50):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def prepare(workspace: Path) -> Path:
    from lumos.data import export_dataset, import_dataset
    from lumos.workspace import Workspace

    home = Workspace(workspace).ensure()
    import_dataset("sample:shapes", "shapes", workspace=home, overwrite=True)
    return export_dataset("shapes", "yolo", workspace / "yolo-data", workspace=home) / CLASSES_FILE


def worker(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if args.worker == "lumos":
        found = train_lumos(
            Path(args.workspace), args.network, args.precision, args.minutes, args.seed, out
        )
    else:
        found = train_yolo(Path(args.workspace), Path(args.data), args.minutes, args.seed, out)
    (out / f"{args.worker}-{args.seed}.json").write_text(json.dumps(found))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--network", default="fcos_cs3darknet_n_fpn")
    parser.add_argument(
        "--precision", default="fp32", help="lumos's (YOLO trains in fp32 on a CPU)"
    )
    parser.add_argument("--runs", type=int, default=500, help="timed ONNX calls per model")
    parser.add_argument("--worker", choices=["lumos", "yolo"], help=argparse.SUPPRESS)
    for hidden in ("--workspace", "--data", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    rows = {"lumos": [], "yolo": []}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = prepare(root / "workspace")
        for seed in (int(s) for s in args.seeds.split(",")):
            common = ["--minutes", str(args.minutes), "--seed", str(seed), "--out", scratch,
                      "--workspace", str(root / "workspace"), "--network", args.network,
                      "--precision", args.precision,
                      "--data", str(data)]  # fmt: skip
            logs = {who: (root / f"{who}-{seed}.log").open("w") for who in rows}
            runs = [
                subprocess.Popen([sys.executable, __file__, "--worker", who, *common], env=env,
                                 stdout=logs[who], stderr=subprocess.STDOUT)
                for who in rows
            ]  # fmt: skip
            for who, run in zip(rows, runs, strict=True):
                if run.wait():
                    sys.exit((root / f"{who}-{seed}.log").read_text()[-3000:])
            for who in rows:
                found = json.loads((root / f"{who}-{seed}.json").read_text())
                found["latency_ms"] = latency_ms(found.pop("onnx"), args.runs)
                rows[who].append(found)
                print(f"seed {seed} {who:5}: test mAP50 {found['map_50']:.3f} after "
                      f"{found['epochs']} epochs in {found['seconds']:.0f} s; batch-1 ONNX "
                      f"{found['latency_ms']:.2f} ms", flush=True)  # fmt: skip
    for who, found in rows.items():
        maps = [r["map_50"] for r in found]
        print(f"== {who:5}: test mAP50 mean {statistics.fmean(maps):.3f} "
              f"[{min(maps):.3f}, {max(maps):.3f}]; batch-1 ONNX median "
              f"{statistics.median(r['latency_ms'] for r in found):.2f} ms; training "
              f"{statistics.median(r['seconds'] for r in found):.0f} s (median)")  # fmt: skip


if __name__ == "__main__":
    main()
