"""Issue 6's deployment goals, measured side by side in one run.

(a) ``layers``: layers before and after fusion for ResNet-18/50, VGG-16 and MobileNetV2 at
    224x224: PyTorch operators, exported ONNX nodes (batch norm folded), ONNX Runtime's
    fused graph.
(b) ``int8``: ResNet-18 at 224x224 trained on the digits sample (3 channels, stored at 28x28,
    upsampled by the network input); ``lumos optimize --precision int8`` calibrated on its
    training images. Batch-1 latency of ONNX Runtime INT8 against PyTorch eager fp32 (goal:
    >= 5x lower), and top-1 on the test split of both (goal: within 1 point).
(c) ``throughput``: images/s at batch 32 of every fp32 CPU backend; the best one's FLOP/s
    (FLOPs per image from PyTorch's flop counter, x images/s) against the GFLOP/s of a
    2048x2048 fp32 matmul with the fastest BLAS here, numpy's OpenBLAS or PyTorch's
    (goal >= 80%); INT8 against the best fp32 (goal >= 2.5x).
(e) ``prune``: channel pruning of the same ResNet-18 (30% and 50% of each layer's channels
    removed, one epoch of fine-tuning): test top-1 next to the unpruned network, and ONNX
    Runtime fp32 latency at batch 1 and 32 against the unpruned export.
(d) ``serve``: ``lumos serve`` in its own process under 64 concurrent loopback clients (a
    second process, a bounded number of requests), with dynamic batching and with
    ``--max-batch 1`` (goal: >= 3x the throughput; p99 and failures reported).

    python benchmarks/deployment.py [--only layers,int8,throughput,serve] [--epochs 3]
    python benchmarks/deployment.py --only serve-eager   # (d) for the untrained 64x64 one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from lumos.data import Dataset, import_dataset
from lumos.deploy import Bundle, save_bundle
from lumos.deploy.bench import machine, time_batches
from lumos.deploy.export import example_input, onnx_bytes
from lumos.deploy.from_job import bundle_from_job
from lumos.deploy.optimize import layer_counts, optimize_bundle
from lumos.deploy.runtime import Predictor, load_predictor, predictor_for
from lumos.models import NetworkSpec
from lumos.train import Recipe, train
from lumos.workspace import Workspace
from machine import print_machine

SIZE = (224, 224)
PARTS = ("layers", "int8", "throughput", "serve", "prune")
MATMUL = """
import time, numpy as np
a, b = (np.random.default_rng(i).random((2048, 2048), dtype=np.float32) for i in (0, 1))
for _ in range(3): a @ b
runs = []
for _ in range(15):
    t = time.perf_counter(); a @ b; runs.append(time.perf_counter() - t)
print(2 * 2048 ** 3 / np.median(runs) / 1e9)
"""


def median_ms(predictor: Predictor, batch: int, seconds: float = 3.0) -> float:
    times = time_batches(
        predictor.outputs, example_input(predictor.bundle, batch).numpy(), min_seconds=seconds
    )
    return float(np.median(times) * 1000)


def layers() -> None:
    print("(a) layers before and after fusion, 224x224:")
    print(f"    {'network':<14}{'PyTorch ops':>12}{'ONNX nodes':>12}{'fused':>8}")
    for name in ("resnet18", "resnet50", "vgg16", "mobilenet_v2"):
        bundle = Bundle.untrained(NetworkSpec.resolve(name, 1000, 3, SIZE))
        model = bundle.model()
        counts = layer_counts(model, example_input(bundle, 1), onnx_bytes(bundle, model=model))
        print(f"    {name:<14}{counts.pytorch:>12}{counts.onnx:>12}{counts.fused:>8}")


def trained_resnet18(workspace: Workspace, epochs: int) -> Bundle:
    """ResNet-18 at 224x224 on the digits sample, 3 channels, half of it held out for test."""
    if not (workspace.models_dir / "r18").is_dir():
        import_dataset(
            "sample:digits", "digits", workspace=workspace, channels=3, val_percent=10,
            test_percent=40,
        )  # fmt: skip
        recipe = Recipe(
            dataset="digits", network="resnet18", input_size=SIZE, epochs=epochs, batch_size=32,
            lr=0.02, warmup_epochs=0.3, workers=1,
        )  # fmt: skip
        start = time.perf_counter()
        job = train(recipe, workspace=workspace, progress=False)
        print(f"    trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
        bundle_from_job(job.id, "r18", workspace=workspace)
        optimize_bundle(
            Bundle.load(workspace.models_dir / "r18"), precision="int8",
            dataset=Dataset.open("digits", workspace),
        )  # fmt: skip
    return Bundle.load(workspace.models_dir / "r18")


def int8(bundle: Bundle, dataset: Dataset) -> None:
    print("(b) ResNet-18 224x224, ONNX Runtime INT8 against PyTorch eager fp32:")
    artefact = bundle.meta.artefacts["int8"]
    predictors = Predictor(bundle), predictor_for(bundle, "onnxruntime:int8")
    rounds = [[median_ms(p, 1, 1.0) for p in predictors] for _ in range(5)]  # interleaved
    eager, quantised = np.median(rounds, axis=0)
    ratio = eager / quantised
    print(f"    batch 1 p50 (median of 5 interleaved rounds): eager fp32 {eager:.2f} ms, "
          f"INT8 {quantised:.2f} ms: {ratio:.2f}x "
          f"lower (goal >= 5x: {'met' if ratio >= 5 else 'NOT met'})")  # fmt: skip
    points = artefact["delta"] * 100
    print(f"    test top-1 ({len(dataset.split('test'))} images): fp32 {artefact['baseline']:.4f}, "
          f"INT8 {artefact['score']:.4f}, {points:+.2f} points "
          f"(goal within 1: {'met' if abs(points) <= 1 else 'NOT met'})")  # fmt: skip


def peak_gflops() -> dict[str, float]:
    """GFLOP/s of a 2048x2048 fp32 matmul: numpy's OpenBLAS (OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE unset, in its own process) and PyTorch's BLAS; the fastest is the peak."""
    unset = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    result = subprocess.run([sys.executable, "-c", MATMUL], env=env, capture_output=True, text=True)
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    times = time_batches(lambda _: a @ b, np.empty(0), min_runs=15, min_seconds=0)
    return {"numpy": float(result.stdout.strip()), "torch": 2 * 2048**3 / np.median(times) / 1e9}


def throughput(bundle: Bundle) -> None:
    print("(c) throughput at batch 32 against the machine's fp32 matmul peak:")
    with FlopCounterMode(display=False) as counter:
        bundle.model()(example_input(bundle, 1))
    gflop = counter.get_total_flops() / 1e9
    blas = peak_gflops()
    peak = max(blas.values())
    rates = {}
    for target in ("torch", "onnxruntime", "onnxruntime:int8"):
        rates[target] = 32 / median_ms(predictor_for(bundle, target), 32, 6.0) * 1000
        print(f"    {target:<18} {rates[target]:7.1f} images/s")
    best = max(("torch", "onnxruntime"), key=rates.get)
    share = rates[best] * gflop / peak
    print(
        f"    2048x2048 fp32 matmul: numpy {blas['numpy']:.0f} GFLOP/s, torch {blas['torch']:.0f}"
    )
    print(f"    {gflop:.2f} GFLOP per image; peak {peak:.0f} GFLOP/s; best fp32 "
          f"({best}) reaches {rates[best] * gflop:.0f} GFLOP/s = {share:.0%} "
          f"(goal >= 80%: {'met' if share >= 0.8 else 'NOT met'})")  # fmt: skip
    gain = rates["onnxruntime:int8"] / rates[best]
    print(
        f"    INT8 / best fp32: {gain:.2f}x (goal >= 2.5x: {'met' if gain >= 2.5 else 'NOT met'})"
    )


def prune(bundle: Bundle, dataset: Dataset) -> None:
    print("(e) channel pruning + 1 epoch of fine-tuning, ResNet-18 224x224, ONNX Runtime fp32:")
    full = load_predictor(bundle, "onnxruntime")
    for share in (0.3, 0.5):
        start = time.perf_counter()
        artefact = optimize_bundle(
            bundle, precision="fp32", dataset=dataset, prune=share, pruning="channels",
            finetune=1,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        thin = predictor_for(bundle, f"onnxruntime:{artefact.file.removesuffix('.onnx')}")
        speed = [median_ms(full, b) / median_ms(thin, b) for b in (1, 32)]
        print(f"    {share:.0%} of channels: {artefact.pruned_weights:.0%} of weights removed, "
              f"{artefact.size_bytes / 1e6:.1f} MB; test top-1 {artefact.score:.4f} "
              f"(unpruned {artefact.baseline:.4f}, {100 * artefact.delta:+.2f} points); "
              f"{speed[0]:.2f}x faster at batch 1, {speed[1]:.2f}x at 32 "
              f"({seconds:.0f} s)")  # fmt: skip


@contextmanager
def serving(home: Path, model: str, *options: str) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "lumos"), "serve", model, "--port", str(port),
         "--max-queue", "1024", *options],
        env={**os.environ, "LUMOS_HOME": str(home)},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("lumos serve did not start")
        time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(30)


def native_request(host: str, image: bytes) -> bytes:
    """One multipart POST of ``image`` to /v1/predict, as raw HTTP/1.1 bytes."""
    boundary = "lumos-bench"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="i.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load_with(url: str, request: bytes, clients: int, requests: int) -> dict:
    """``clients`` keep-alive connections sending ``request`` (raw HTTP/1.1 bytes)
    ``requests`` times in all, as fast as answered.

    Raw asyncio streams: an HTTP client library in Python costs more CPU per request than
    the server does, and would measure itself."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    failures = 0
    remaining = iter(range(requests))

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in remaining:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )  # fmt: skip
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            failures += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(clients)))
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {
        "throughput": len(latencies) / wall,
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "failures": failures,
        "requests": len(latencies),
    }


def in_own_process(*args: str) -> dict:
    """The JSON a Python script prints: a load generator in its own process, so that it
    does not share the server's (or this script's) GIL."""
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"the load generator failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)


def load(url: str, image: Path, clients: int, requests: int) -> dict:
    return in_own_process(__file__, "--load", url, "--image", str(image),
                          "--clients", str(clients), "--requests", str(requests))  # fmt: skip


def serve(home: Path, configurations: list[tuple[str, str, int]]) -> None:
    print(
        "(d) lumos serve, 64 concurrent loopback clients, dynamic batching against --max-batch 1:"
    )
    image = home / "request.png"
    for model, target, requests in configurations:
        bundle = Bundle.load(home / "models" / model)
        height, width = bundle.preprocessing.size
        pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(image)
        backend, _, artefact = target.partition(":")
        options = ["--backend", backend] + (["--artefact", artefact] if artefact else [])
        results = {}
        for label, batch in (("batched", "32"), ("max-batch 1", "1")):
            with serving(home, model, *options, "--max-batch", batch) as url:
                load(url, image, 64, 64)  # warm-up
                results[label] = load(url, image, 64, requests)
            r = results[label]
            print(f"    {model} {target} {label:<12} {r['throughput']:7.1f} req/s  "
                  f"p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  "
                  f"failed {r['failures']}/{r['requests']}")  # fmt: skip
        gain = results["batched"]["throughput"] / results["max-batch 1"]["throughput"]
        print(
            f"    {model} {target}: {gain:.2f}x (goal >= 3x: {'met' if gain >= 3 else 'NOT met'})"
        )


def small_model(workspace: Workspace) -> None:
    """An untrained ResNet-18 at 64x64 in the workspace (speed does not depend on weights)."""
    bundle = Bundle.untrained(NetworkSpec.resolve("resnet18", 10, 3, (64, 64)))
    save_bundle("r18-64", meta=bundle.meta.as_json(), weights=bundle.weights, workspace=workspace,
                overwrite=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(PARTS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--home", type=Path, help="a workspace to keep (and reuse) the model in")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        host = args.load.removeprefix("http://").split(":")[0]
        request = native_request(host, args.image.read_bytes())
        result = asyncio.run(load_with(args.load, request, args.clients, args.requests))
        print(json.dumps(result))
        return
    parts = args.only.split(",")
    print_machine()
    torch.set_num_threads(machine()["cores"])
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace(args.home or Path(scratch)).ensure()
        os.environ["LUMOS_HOME"] = str(workspace.root)
        if "layers" in parts:
            layers()
        if {"int8", "throughput", "serve", "prune"} & set(parts):
            bundle = trained_resnet18(workspace, args.epochs)
            if "int8" in parts:
                int8(bundle, Dataset.open("digits", workspace))
            if "throughput" in parts:
                throughput(bundle)
            if "prune" in parts:
                prune(bundle, Dataset.open("digits", workspace))
            if "serve" in parts:
                small_model(workspace)
                serve(workspace.root, [("r18", "onnxruntime:int8", 600), ("r18-64", "torch", 600)])
        if "serve-eager" in parts:  # (d) for the eager ResNet-18 alone: no training needed
            small_model(workspace)
            serve(workspace.root, [("r18-64", "torch", 600)])


if __name__ == "__main__":
    main()
