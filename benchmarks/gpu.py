"""The GPU path, measured in one run of at most 8 minutes on a CUDA machine:

(a) ResNet-50 at 224x224 (bf16 autocast, channels_last) trained through lumos's trainer and
    through a plain PyTorch loop over the same images, the same batches and schedule
    (goal: lumos >= 0.95x the plain loop), with NVIDIA's published DeepLearningExamples
    figure for that GPU beside them where there is one;
(b) the demo's detector (light FCOS at 128x128) for a fixed number of steps: images/s;
(c) the planner's training memory against ``torch.cuda.max_memory_allocated`` over one real
    step, for 6 networks x 2 batch sizes (goal: median error <= 5%);
(d) ONNX Runtime's CUDA and TensorRT providers (where the installed wheel has them) against
    PyTorch eager, batch 1 and 64: median milliseconds a batch;
(e) ``lumos serve`` of a classifier on the GPU (``--backend torch-cuda``) under 64
    concurrent loopback clients: requests/s, p50 and p99.

``--smoke`` runs the same steps on the CPU at tiny sizes (the test suite runs it): a
script that first meets a GPU with eight minutes to spare must not first meet its bugs.

    python benchmarks/gpu.py [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from deployment import load, serving
from lumos.data import Dataset, import_dataset
from lumos.data.loader import at_size
from lumos.demo import DETECTION_RECIPE
from lumos.deploy import Bundle
from lumos.deploy.export import onnx_bytes
from lumos.deploy.from_job import bundle_from_job
from lumos.deploy.runtime import load_predictor
from lumos.deploy.sessions import available_backends
from lumos.models import build_model
from lumos.plan.measure import training_peak
from lumos.plan.memory import Planner, workload
from lumos.train import Recipe, train
from lumos.train.trainer import Trainer
from lumos.workspace import Workspace
from machine import print_machine
from train_throughput import EpochTimer, write_cifar

# NVIDIA DeepLearningExamples, PyTorch ResNet-50 v1.5, 1 GPU, mixed precision, img/s
# (its README, pytorch-21.03 container): GPU name fragment -> figure.
PUBLISHED = {"A100": 2470, "V100": 1200}


@dataclass(frozen=True)
class Sizes:
    """What each step runs at: the GPU run's sizes, or the smoke test's."""

    device: str
    precision: str
    classifier: str
    side: int
    images: int
    batch: int
    epochs: int
    detector_side: int
    detector_steps: int
    plans: tuple[tuple[str, int, int], ...]  # network, input side, batch (x2: batch * 4)
    onnx_batches: tuple[int, int]
    requests: int


GPU = Sizes(
    device="cuda", precision="bf16", classifier="resnet50", side=224, images=4096, batch=128,
    epochs=3, detector_side=128, detector_steps=100,
    plans=(("resnet18", 224, 32), ("resnet50", 224, 32), ("mobilenet_v3_large", 224, 32),
           ("efficientnet_b0", 224, 16), ("vgg11", 224, 8), ("fcos_cs3darknet_n_fpn", 320, 8)),
    onnx_batches=(1, 64), requests=4000,
)  # fmt: skip
SMOKE = Sizes(
    device="cpu", precision="fp32", classifier="resnet18", side=32, images=48, batch=16,
    epochs=2, detector_side=64, detector_steps=2, plans=(("lenet5", 32, 4), ("resnet18", 32, 2)),
    onnx_batches=(1, 4), requests=32,
)  # fmt: skip


def trainer_against_loop(workspace: Workspace, root: Path, sizes: Sizes) -> None:
    write_cifar(root / "gratings", sizes.images, sizes.batch)
    dataset = Dataset(import_dataset(root / "gratings", "gratings", workspace=workspace,
                                     test_percent=0))  # fmt: skip
    recipe = Recipe(dataset="gratings", network=sizes.classifier, epochs=sizes.epochs,
                    batch_size=sizes.batch, lr=0.05, input_size=(sizes.side, sizes.side),
                    precision=sizes.precision, channels_last=True, workers=2)  # fmt: skip
    timer = EpochTimer()
    Trainer(recipe, dataset, callbacks=(timer,), device=sizes.device).fit()
    ours = statistics.median(timer.rates[1:] or timer.rates)
    plain = plain_loop(dataset, recipe, sizes.device)
    print(f"(a) {sizes.classifier} {sizes.side}x{sizes.side}, batch {sizes.batch}, "
          f"{sizes.precision}: lumos {ours:.1f} img/s, plain loop {plain:.1f} img/s: "
          f"{ours / plain:.2f}x (goal >= 0.95)")  # fmt: skip
    name = torch.cuda.get_device_name(0) if sizes.device == "cuda" else "this CPU"
    published = next((v for k, v in PUBLISHED.items() if k in name), None)
    print(
        f"    NVIDIA's published ResNet-50 mixed precision figure for {name}: "
        + (f"{published} img/s" if published else "none (A100 80GB: 2470, V100: 1200)")
    )


def plain_loop(dataset: Dataset, recipe: Recipe, device: str) -> float:
    """The loop a person would write: the split on the device, the same steps; images/s of
    the median epoch after the first."""
    train = dataset.split("train")
    pixels = torch.from_numpy(train.images(np.arange(len(train)))).to(device)
    labels = torch.from_numpy(train.labels()).to(device)
    model = build_model(recipe.network, len(dataset.classes), 3, recipe.input_size)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9)
    dtype = torch.bfloat16 if recipe.precision == "bf16" else torch.float32
    rates = []
    for _ in range(recipe.epochs):
        start = time.perf_counter()
        for i in range(0, len(labels) - recipe.batch_size + 1, recipe.batch_size):
            images = pixels[i : i + recipe.batch_size].permute(0, 3, 1, 2).float() / 255
            images = at_size(images, recipe.input_size).contiguous(
                memory_format=torch.channels_last
            )
            with torch.autocast(device, dtype, enabled=dtype != torch.float32):
                loss = F.cross_entropy(model(images), labels[i : i + recipe.batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        rates.append(len(labels) / (time.perf_counter() - start))
    return statistics.median(rates[1:] or rates)


def detector_steps(workspace: Workspace, sizes: Sizes) -> None:
    dataset = Dataset(import_dataset("sample:shapes", "shapes", workspace=workspace))
    recipe = DETECTION_RECIPE.model_copy(update={
        "input_size": (sizes.detector_side,) * 2, "precision": sizes.precision, "workers": 2,
    })  # fmt: skip
    trainer = Trainer(recipe, dataset, device=sizes.device)
    trainer.state.sums = {"loss": 0.0, "correct": 0.0, "seen": 0.0, "counted": 0.0}
    trainer.model.train()
    batches, seen, start = trainer.loader.iterate(), 0, 0.0
    for step in range(sizes.detector_steps + 1):
        images, targets = next(batches)
        if step == 1:  # the first step warms up
            start = time.perf_counter()
        trainer._step(images, targets)
        trainer.state.position += 1
        seen += len(images) if step else 0
    if sizes.device == "cuda":
        torch.cuda.synchronize()
    rate = seen / (time.perf_counter() - start)
    print(f"(b) {recipe.network} {sizes.detector_side}x{sizes.detector_side}, batch "
          f"{recipe.batch_size}: {rate:.1f} img/s over {sizes.detector_steps} steps")  # fmt: skip


def planner_against_allocator(sizes: Sizes) -> None:
    errors = []
    for network, side, batch in sizes.plans:
        for size in (batch, batch * 4):
            work = workload(network, (3, side, side), precision=sizes.precision)
            planned = Planner(work).plan(size).training
            real = training_peak(work, size, sizes.device)
            errors.append(abs(planned - real) / real)
            print(f"(c) {network} {side}x{side} batch {size}: planned {planned / 1e6:.1f} MB, "
                  f"allocator {real / 1e6:.1f} MB ({(planned - real) / real:+.1%})")  # fmt: skip
    print(
        f"    |error| median {statistics.median(errors):.1%}, worst {max(errors):.1%} "
        "(goal: median <= 5%)"
    )


def providers_against_eager(workspace: Workspace, sizes: Sizes) -> str:
    """Batch latency on each backend this machine has; returns the model it saved."""
    # One epoch: speed does not depend on the weights.
    recipe = Recipe(dataset="gratings", network=sizes.classifier, epochs=1,
                    input_size=(sizes.side, sizes.side), batch_size=sizes.batch,
                    precision=sizes.precision, workers=0)  # fmt: skip
    model = "classifier"
    job = train(recipe, workspace=workspace, device=sizes.device, progress=False)
    bundle_from_job(job.id, model, workspace=workspace)
    bundle = Bundle.load(model, workspace)
    graph = onnx_bytes(bundle)
    eager = "torch-cuda" if sizes.device == "cuda" else "torch"
    backends = [eager] + [b for b in available_backends() if b not in ("torch", "torch-cuda")]
    for backend in backends:
        predictor = load_predictor(bundle, backend, artefact=None if "torch" in backend else graph)
        for batch in sizes.onnx_batches:
            times = batch_milliseconds(predictor, batch, sizes.side)
            print(f"(d) {backend:<18} batch {batch:>3}: {times:8.2f} ms")
    for missing in sorted({"onnxruntime-cuda", "tensorrt"} - set(backends)):
        print(f"(d) {missing:<18} not measured: the installed onnxruntime lacks its provider "
              "(the onnxruntime-gpu wheel has it)")  # fmt: skip
    return model


def batch_milliseconds(predictor, batch: int, side: int, runs: int = 20) -> float:
    images = np.random.default_rng(0).random((batch, 3, side, side), dtype=np.float32)
    predictor.outputs(images)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        predictor.outputs(images)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def served(workspace: Workspace, model: str, sizes: Sizes) -> None:
    image = workspace.root / "request.png"
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    backend = "torch-cuda" if sizes.device == "cuda" else "torch"
    with serving(workspace.root, model, "--backend", backend, "--max-batch", "32") as url:
        load(url, image, 64, 64)  # warm-up
        r = load(url, image, 64, sizes.requests)
    print(
        f"(e) lumos serve --backend {backend}, 64 clients: {r['throughput']:.1f} req/s, "
        f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, failed {r['failures']}/{r['requests']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
    args = parser.parse_args()
    print_machine()
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --smoke for the CPU rehearsal")
    sizes = SMOKE if args.smoke else GPU
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(Path(folder) / "ws").ensure()
        trainer_against_loop(workspace, Path(folder), sizes)
        detector_steps(workspace, sizes)
        planner_against_allocator(sizes)
        model = providers_against_eager(workspace, sizes)
        served(workspace, model, sizes)
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
