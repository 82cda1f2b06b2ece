"""lumos's light detector against Ultralytics YOLOv8n at equal training time on shapes.

Both train from scratch on the built-in ``shapes`` sample (225 train / 45 val / 30 test
images) at 96x96, side by side on the machine's cores with one thread each, for the same
``--minutes`` (lumos: the recipe's ``time_limit``; Ultralytics: its ``time``); each sets
its epochs to what fits and keeps its best checkpoint by its own validation score. lumos
trains ``--network`` with the demo's detection recipe; YOLOv8n is built from Ultralytics'
``yolov8n.yaml`` (no pretrained weights) and trained with its own defaults on lumos's YOLO
export of the same splits. Each model's boxes on the val and test images (YOLO's at its
validation settings, conf 0.001, IoU 0.7) are scored by lumos's COCO evaluator: val is
what any choice is made on; the test split is read once, after training, for the table.
Each test mAP50 comes with a 95% bootstrap interval over test images and seeds, and the
interval of the difference (paired: the same resamples); overlapping intervals are "not
distinguishable". Parameters and FLOPs (torch's FlopCounterMode, one 96x96 image, the
network's forward in eval mode) are computed here. Batch-1 latency: each model's ONNX graph
on ONNX Runtime, one thread, median of ``--runs`` calls (lumos's graph includes decoding
and NMS; YOLOv8n's, as Ultralytics exports it, decoding without NMS). Ultralytics (AGPL) is
a benchmark extra, never a dependency of lumos.

``--throughput``: training speed alone, at equal threads (``--threads``, default every core)
and input size: each trainer in a process of its own, one after the other, ``--epochs``
epochs without validation; images/s of the median epoch after the first (the training loop,
data loading and augmentation included: lumos's recipe, Ultralytics' defaults with mosaic).

    python benchmarks/yolo_compare.py [--minutes 5] [--seeds 0,1,2,3,4] [--network NAME]
                                      [--precision fp32|bf16|auto]
    python benchmarks/yolo_compare.py --throughput [--threads 2] [--epochs 6]
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

from bootstrap import intervals, verdict
from machine import print_machine

SIZE = 96
CLASSES_FILE = "data.yaml"
SPLITS = ("val", "test")


def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def train_lumos(
    workspace: Path, network: str, precision: str, minutes: float, seed: int, out: Path
) -> dict:
    from lumos.data import Dataset
    from lumos.data.loader import BatchLoader
    from lumos.demo import DETECTION_RECIPE
    from lumos.deploy import Bundle
    from lumos.deploy.export import export_bundle
    from lumos.deploy.from_job import bundle_from_job
    from lumos.tasks.detection.scoring import detect_split
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
    bundle = Bundle.load(name, home)
    model = bundle.model()
    found = {}
    for split in SPLITS:
        part = Dataset.open("shapes", home).split(split)
        loader = BatchLoader(part, 16, targets="boxes")
        _, boxes = detect_split(model, loader, bundle.preprocessing.input_size)
        found[split] = [{k: v.tolist() for k, v in image.items()} for image in boxes]
    export_bundle(bundle, out / f"{name}.onnx")
    epochs = sum(r["kind"] == "epoch" for r in read_metrics(job.folder / METRICS))
    return {"found": found, "seconds": seconds, "epochs": epochs,
            "size": size(model), "onnx": str(out / f"{name}.onnx")}  # fmt: skip


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
    found = {split: yolo_detections(workspace, best, split) for split in SPLITS}
    network = best.model.eval()
    for module in network.modules():
        if hasattr(module, "export"):
            module.export = True
    onnx_file = out / f"yolov8n-{seed}.onnx"
    example = torch.rand(1, 3, SIZE, SIZE)
    network(example)
    torch.onnx.export(network, (example,), str(onnx_file), dynamo=False, opset_version=17)
    epochs = len((out / "yolo" / f"seed{seed}" / "results.csv").read_text().splitlines()) - 1
    return {"found": found, "seconds": seconds, "epochs": epochs, "size": size(network),
            "onnx": str(onnx_file)}  # fmt: skip


def speed_lumos(workspace: Path, network: str, precision: str, epochs: int) -> list[float]:
    """Training images/s of each epoch of lumos's trainer (validation left out)."""
    from lumos.data import Dataset
    from lumos.demo import DETECTION_RECIPE
    from lumos.train.trainer import Trainer
    from lumos.workspace import Workspace
    from train_throughput import EpochTimer

    recipe = DETECTION_RECIPE.model_copy(
        update={"network": network, "input_size": (SIZE, SIZE), "epochs": epochs,
                "val_every": epochs, "precision": precision}
    )  # fmt: skip
    timer = EpochTimer()
    Trainer(recipe, Dataset.open("shapes", Workspace(workspace)), callbacks=(timer,)).fit()
    return timer.rates


def speed_yolo(data: Path, epochs: int, out: Path) -> list[float]:
    """Training images/s of each epoch of Ultralytics' trainer (its defaults, no validation)."""
    os.environ["YOLO_CONFIG_DIR"] = str(out / "ultralytics-settings")
    os.environ["YOLO_OFFLINE"] = "1"
    from ultralytics import YOLO

    model, started, rates = YOLO("yolov8n.yaml"), [0.0], []

    def start(trainer) -> None:
        started[0] = time.perf_counter()

    def end(trainer) -> None:
        rates.append(len(trainer.train_loader.dataset) / (time.perf_counter() - started[0]))

    model.add_callback("on_train_epoch_start", start)
    model.add_callback("on_train_epoch_end", end)
    model.train(data=str(data), imgsz=SIZE, epochs=epochs, device="cpu", val=False, amp=False,
                pretrained=False, plots=False, project=str(out / "yolo-speed"), exist_ok=True,
                verbose=False)  # fmt: skip
    return rates


def throughput(args: argparse.Namespace) -> None:
    """``--throughput``: each trainer alone at ``args.threads``, one after the other."""
    threads = str(args.threads or len(os.sched_getaffinity(0)))
    env = dict(os.environ, OMP_NUM_THREADS=threads)
    rates = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = prepare(root / "workspace")
        for who in ("lumos", "yolo"):
            common = ["--workspace", str(root / "workspace"), "--data", str(data), "--out",
                      scratch, "--network", args.network, "--precision", args.precision,
                      "--epochs", str(args.epochs), "--seed", "0"]  # fmt: skip
            done = subprocess.run([sys.executable, __file__, "--worker", f"{who}-speed",
                                   *common], env=env, capture_output=True, text=True)  # fmt: skip
            if done.returncode:
                sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
            rates[who] = json.loads((root / f"{who}-speed.json").read_text())
    median = {who: statistics.median(r[1:] or r) for who, r in rates.items()}
    for who, r in rates.items():
        print(f"{who:5}: {median[who]:6.1f} training images/s (median epoch after the first; "
              f"epochs: {', '.join(f'{v:.1f}' for v in r)})")  # fmt: skip
    print(
        f"lumos {args.network} / YOLOv8n, {threads} threads, {SIZE}x{SIZE}: "
        f"{median['lumos'] / median['yolo']:.2f}x (goal >= 1.0)"
    )


def size(network) -> dict:
    """Parameters of ``network`` and the FLOPs of its forward in eval mode on one 96x96 image
    (torch's FlopCounterMode: convolutions and matrix products, 2 FLOPs a multiply-add)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        network(torch.rand(1, 3, SIZE, SIZE))
    params = sum(p.numel() for p in network.parameters())
    return {"params": params, "flops": counter.get_total_flops()}


def truths_of(workspace: Path, split: str) -> list[dict]:
    """The stored boxes of a split's images, in stored pixels."""
    from lumos.data import Dataset
    from lumos.data.loader import BatchLoader
    from lumos.workspace import Workspace

    part = Dataset.open("shapes", Workspace(workspace)).split(split)
    return [t for _, targets in BatchLoader(part, 16, targets="boxes") for t in targets]


def yolo_detections(workspace: Path, model, split: str) -> list[dict]:
    """YOLO's boxes on each image of a split, in stored pixels."""
    from lumos.data import Dataset
    from lumos.workspace import Workspace

    part = Dataset.open("shapes", Workspace(workspace)).split(split)
    found = []
    for image in part.images(np.arange(len(part))):
        result = model.predict(image[:, :, ::-1], imgsz=SIZE, conf=0.001, iou=0.7, verbose=False)
        boxes = result[0].boxes
        found.append({"boxes": boxes.xyxy.numpy().tolist(),
                      "labels": boxes.cls.numpy().astype(int).tolist(),
                      "scores": boxes.conf.numpy().tolist()})  # fmt: skip
    return found


def map50(truths: list[dict], found: list[dict], classes: list[str]) -> float:
    from lumos.tasks.detection.coco import coco_documents, coco_metrics

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
    import torch

    out = Path(args.out)
    if args.worker.endswith("-speed"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        rates = (speed_lumos(Path(args.workspace), args.network, args.precision, args.epochs)
                 if args.worker == "lumos-speed"
                 else speed_yolo(Path(args.data), args.epochs, out))  # fmt: skip
        (out / f"{args.worker}.json").write_text(json.dumps(rates))
        return
    if args.worker == "lumos":
        found = train_lumos(
            Path(args.workspace), args.network, args.precision, args.minutes, args.seed, out
        )
    else:
        found = train_yolo(Path(args.workspace), Path(args.data), args.minutes, args.seed, out)
    (out / f"{args.worker}-{args.seed}.json").write_text(json.dumps(found))


def report(workspace: Path, rows: dict[str, list[dict]]) -> None:
    """Val and test mAP50 per system, the test's bootstrap intervals and the verdict."""
    from lumos.data import Dataset
    from lumos.workspace import Workspace

    classes = Dataset.open("shapes", Workspace(workspace)).classes
    truths = {split: truths_of(workspace, split) for split in SPLITS}
    for who, runs in rows.items():
        val = [map50(truths["val"], r["found"]["val"], classes) for r in runs]
        test = [map50(truths["test"], r["found"]["test"], classes) for r in runs]
        print(f"== {who:5}: val mAP50 mean {statistics.fmean(val):.3f} "
              f"({', '.join(f'{v:.3f}' for v in val)}); test mAP50 mean "
              f"{statistics.fmean(test):.3f} ({', '.join(f'{v:.3f}' for v in test)}); "
              f"{runs[0]['size']['params'] / 1e6:.2f}M params, "
              f"{runs[0]['size']['flops'] / 1e6:.0f} MFLOPs at {SIZE}x{SIZE}; batch-1 ONNX "
              f"median {statistics.median(r['latency_ms'] for r in runs):.2f} ms; training "
              f"{statistics.median(r['seconds'] for r in runs):.0f} s, "
              f"{statistics.median(r['epochs'] for r in runs):.0f} epochs (medians)")  # fmt: skip

    def mean_map(who: str):
        def score(images: np.ndarray, seeds: np.ndarray) -> float:
            picked = [truths["test"][i] for i in images]
            return statistics.fmean(
                map50(picked, [rows[who][s]["found"]["test"][i] for i in images], classes)
                for s in seeds
            )

        return score

    found = intervals({who: mean_map(who) for who in rows}, len(truths["test"]),
                      len(rows["lumos"]))  # fmt: skip
    for name, (low, high) in found.items():
        print(f"95% bootstrap interval of test mAP50, {name}: [{low:.3f}, {high:.3f}]")
    print(f"verdict: {verdict('lumos', 'yolo', found)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--network", default="fcos_cs3darknet_n_fpn")
    parser.add_argument(
        "--precision", default="fp32", help="lumos's (YOLO trains in fp32 on a CPU)"
    )
    parser.add_argument("--runs", type=int, default=500, help="timed ONNX calls per model")
    parser.add_argument("--throughput", action="store_true", help="training speed alone")
    parser.add_argument("--threads", type=int, help="--throughput: threads (default: cores)")
    parser.add_argument("--epochs", type=int, default=6, help="--throughput: epochs each")
    parser.add_argument("--worker", choices=["lumos", "yolo", "lumos-speed", "yolo-speed"],
                        help=argparse.SUPPRESS)  # fmt: skip
    for hidden in ("--workspace", "--data", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    print_machine()
    if args.throughput:
        return throughput(args)
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
                print(f"seed {seed} {who:5}: {found['epochs']} epochs in "
                      f"{found['seconds']:.0f} s; batch-1 ONNX {found['latency_ms']:.2f} ms",
                      flush=True)  # fmt: skip
        report(root / "workspace", rows)


if __name__ == "__main__":
    main()
